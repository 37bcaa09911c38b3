"""What the terminal client keeps of what it showed, and the pages PageUp and PageDown show."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.client.scrollback import Scrollback, display_width, rows


def filled(count: int, kept: int = 100) -> Scrollback:
    scrollback = Scrollback(kept)
    for n in range(count):
        scrollback.add(f"line {n}", f"\x1b[36mline {n}\x1b[0m".encode())
    return scrollback


def texts(scrollback: Scrollback, height: int = 5, width: int = 80) -> list[str]:
    return [line.text for line in scrollback.page(height, width)]


class WidthTests(SynchronousTestCase):
    def test_display_width(self) -> None:
        self.assertEqual(display_width("abc"), 3)
        self.assertEqual(display_width("日本"), 4)
        self.assertEqual(display_width("e\u0301"), 1)

    def test_rows(self) -> None:
        self.assertEqual([rows(t, 10) for t in ["", "x" * 10, "x" * 11, "日" * 6]], [1, 1, 2, 2])


class ScrollbackTests(SynchronousTestCase):
    def test_live_page_is_the_latest(self) -> None:
        scrollback = filled(20)
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(15, 20)])
        self.assertFalse(scrollback.scrolled)

    def test_pages_back_and_forward(self) -> None:
        """Each page overlaps the last by a line; forward past the latest is live again."""
        scrollback = filled(20)
        self.assertTrue(scrollback.back(5, 80))
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(11, 16)])
        self.assertTrue(scrollback.back(5, 80))
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(7, 12)])
        scrollback.forward(5, 80)
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(11, 16)])
        scrollback.forward(5, 80)
        self.assertFalse(scrollback.scrolled)
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(15, 20)])

    def test_not_before_the_oldest(self) -> None:
        scrollback = filled(7)
        self.assertTrue(scrollback.back(5, 80))
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(0, 5)])
        self.assertFalse(scrollback.back(5, 80))
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(0, 5)])

    def test_all_on_one_page(self) -> None:
        """Scrolling back shows them again (the screen may have been cleared), once."""
        scrollback = filled(3)
        self.assertTrue(scrollback.back(5, 80))
        self.assertEqual(texts(scrollback), ["line 0", "line 1", "line 2"])
        self.assertFalse(scrollback.back(5, 80))
        self.assertFalse(Scrollback().back(5, 80))

    def test_the_page_stays_while_lines_come(self) -> None:
        scrollback = filled(20)
        scrollback.back(5, 80)
        scrollback.add("new", b"new")
        self.assertEqual(texts(scrollback), [f"line {n}" for n in range(11, 16)])
        self.assertEqual((scrollback.newer, scrollback.unseen), (5, 1))
        scrollback.live()
        self.assertEqual(texts(scrollback)[-1], "new")
        self.assertEqual((scrollback.newer, scrollback.unseen), (0, 0))

    def test_long_lines_take_their_rows(self) -> None:
        scrollback = Scrollback()
        for text in ["a", "b" * 25, "c"]:
            scrollback.add(text, text.encode())
        self.assertEqual(texts(scrollback, height=4, width=10), ["b" * 25, "c"])
        self.assertEqual(texts(scrollback, height=2, width=10), ["c"])
        self.assertEqual(texts(scrollback, height=1, width=2), ["c"])
        scrollback.add("d" * 30, b"")
        self.assertEqual(texts(scrollback, height=2, width=10), ["d" * 30], "one line at least")

    def test_bounded(self) -> None:
        scrollback = filled(250, kept=100)
        self.assertEqual(len(scrollback), 100)
        while scrollback.back(5, 80):
            pass
        self.assertEqual(texts(scrollback)[0], "line 150")

    def test_forgetting_while_scrolled_back(self) -> None:
        """The oldest go even from the page on view; it never points before the first kept."""
        scrollback = filled(10, kept=10)
        while scrollback.back(5, 80):
            pass
        for n in range(30):
            scrollback.add(f"more {n}", b"")
        self.assertLessEqual(scrollback.newer, len(scrollback) - 1)
        self.assertEqual(len(texts(scrollback)), 1)
