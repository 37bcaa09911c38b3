"""
Several chatsvc nodes that are one chat (C{twistd chat --cluster redis://...}).

Each node's chat (L{chatsvc.cluster.chat.ClusterChat}) holds every user of
the cluster: its own, and those of the other nodes as participants whose
client (L{chatsvc.cluster.chat.RemoteClient}) delivers nothing, since their
own node delivers to them. What a local user does is published once, as an
operation (L{chatsvc.cluster.ops}); every other node applies it to its own
chat, which tells its own users as it would of a local user. The transport
(L{chatsvc.cluster.redis}) carries the operations over Redis pub/sub with
sequence numbers, holds the nickname claims and each node's members in
Redis, and notices nodes that go away. The chat model itself never learns
that there is a cluster.
"""
