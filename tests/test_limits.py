"""Limits and the token bucket, on their own."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.limits import Limits, TokenBucket


class LimitsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        limits = Limits()
        self.assertEqual(
            (limits.max_line, limits.max_clients, limits.max_per_ip, limits.login_timeout),
            (4096, 10_000, 20, 60.0),
        )
        self.assertEqual((limits.rate, limits.burst, limits.max_send_buffer), (10.0, 20, 1 << 20))

    def test_bounds(self) -> None:
        Limits(max_line=256, burst=1, max_clients=0, max_per_ip=0, rate=0, login_timeout=0)
        with self.assertRaises(ValueError) as caught:
            Limits(max_line=255)
        self.assertEqual(str(caught.exception), "max-line must be at least 256")
        with self.assertRaises(ValueError) as caught:
            Limits(burst=0)
        self.assertEqual(str(caught.exception), "burst must be at least 1")
        with self.assertRaises(ValueError) as caught:
            Limits(rate=-1)
        self.assertEqual(str(caught.exception), "rate must be 0 (unlimited) or more")


class TokenBucketTests(SynchronousTestCase):
    def test_burst_then_rate(self) -> None:
        bucket = TokenBucket(rate=10, burst=3, now=100.0)
        self.assertEqual([bucket.take(100.0) for _ in range(4)], [True, True, True, False])
        self.assertAlmostEqual(bucket.wait(100.0), 0.1)
        self.assertFalse(bucket.take(100.09))
        self.assertTrue(bucket.take(100.1))
        self.assertFalse(bucket.take(100.1))

    def test_refill_is_capped_at_burst(self) -> None:
        bucket = TokenBucket(rate=10, burst=3, now=0.0)
        for _ in range(3):
            bucket.take(0.0)
        self.assertEqual([bucket.take(1000.0) for _ in range(4)], [True, True, True, False])

    def test_unlimited(self) -> None:
        bucket = TokenBucket(rate=0, burst=1, now=0.0)
        self.assertTrue(all(bucket.take(0.0) for _ in range(1000)))
        self.assertEqual(bucket.wait(0.0), 0.0)
