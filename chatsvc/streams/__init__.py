"""
What every stream connection is held to and how it sends: the limits and the
token bucket that paces input (L{chatsvc.streams.limits}), and TCP connections
that send at once when nothing is queued (L{chatsvc.streams.eagertcp}).
"""
