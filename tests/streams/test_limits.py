"""Limits and the token bucket, on their own."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.streams.limits import Limits, TokenBucket


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

    def test_charge_spends_beyond_the_budget(self) -> None:
        """A request dearer than a line is paid for by waiting, once the budget is spent."""
        bucket = TokenBucket(rate=4, burst=3, now=0.0)
        bucket.charge(0.0, 2)
        self.assertEqual([bucket.take(0.0) for _ in range(2)], [True, False])
        bucket.charge(0.0, 3)  # owed, as if three lines more had been taken
        self.assertEqual(bucket.wait(0.0), 1.0)
        self.assertFalse(bucket.take(0.75))
        self.assertTrue(bucket.take(1.0))
        unlimited = TokenBucket(rate=0, burst=1, now=0.0)
        unlimited.charge(0.0, 1000)
        self.assertTrue(unlimited.take(0.0))

    def test_wait_counts_fractions_of_a_token(self) -> None:
        """Rates and times in binary fractions, so the waits are exact."""
        bucket = TokenBucket(rate=4, burst=3, now=0.0)
        self.assertEqual([bucket.take(0.0) for _ in range(4)], [True, True, True, False])
        self.assertEqual(bucket.wait(0.0), 0.25)
        self.assertEqual(bucket.wait(0.125), 0.125, "half a token")
        self.assertFalse(bucket.take(0.125))
        self.assertEqual(bucket.wait(0.1875), 0.0625, "three quarters")
        self.assertEqual(bucket.wait(0.375), 0.0, "a token and a half")
        self.assertTrue(bucket.take(0.375))
        self.assertEqual(bucket.wait(0.375), 0.125, "half a token left")
        self.assertFalse(bucket.take(0.4375))
        self.assertTrue(bucket.take(0.5))
        self.assertEqual(bucket.wait(0.5), 0.25)

    def test_a_line_is_taken_when_the_wait_is_over(self) -> None:
        """
        At the times real clocks give (about 1.8e9 seconds, to a quarter of a
        microsecond), the line a wait was for is taken when it ends, whatever
        fraction of a token was left.
        """
        for rate in [10, 3, 7, 0.7, 13, 1000]:
            for start in [1_795_000_000.0 + i * 0.0123 for i in range(200)]:
                bucket = TokenBucket(rate=rate, burst=2, now=start)
                now = start + 0.37 / rate  # a fraction of a token spent, then more
                for _ in range(5):
                    while bucket.take(now):
                        pass
                    now += bucket.wait(now)
                    self.assertTrue(bucket.take(now), (rate, start, now))

    def test_paced_at_the_rate(self) -> None:
        """
        A client that always has a line waiting is refused once per line past
        its burst, and sends at the rate: every wait ends in a line.
        """
        rate, burst, lines = 7.0, 3, 1000
        start = now = 1_795_000_000.0
        bucket = TokenBucket(rate=rate, burst=burst, now=start)
        taken = refused = 0
        for _ in range(3 * lines):  # bounded: a wait too short to move the clock never ends
            if taken == lines:
                break
            if bucket.take(now):
                taken += 1
            else:
                refused += 1
                now += bucket.wait(now)
        self.assertEqual((taken, refused), (lines, lines - burst))
        self.assertAlmostEqual((now - start) * rate, lines - burst, places=3)

    def test_unlimited(self) -> None:
        bucket = TokenBucket(rate=0, burst=1, now=0.0)
        self.assertTrue(all(bucket.take(0.0) for _ in range(1000)))
        self.assertEqual(bucket.wait(0.0), 0.0)
