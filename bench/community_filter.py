"""The community word filter: time to screen one post against a few thousand words.

Run: ``.venv/bin/python bench/community_filter.py [--words N] [--rounds N]``

* matcher: :class:`cloud_bridge.service.community.WordMatcher` (normalise, then every
  start position looked up in the word set per word length), per post of the maximum
  length (1000 characters) that contains no forbidden word (the whole text is scanned).
* baseline: the obvious filter, ``any(w in text for w in words)`` over the normalised text
  (C substring search per word), measured in the same run on the same posts.

The last line is ``community_filter_ratio=`` = matcher time over baseline time (below 1:
the matcher is faster; it also grows with the number of distinct word lengths, not the
number of words).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge.service.community import WordMatcher, normalise  # noqa: E402

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def timed(fn, posts: list[str], rounds: int) -> float:
    """Median milliseconds per post over five rounds."""
    out = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for p in posts:
                fn(p)
        out.append((time.perf_counter() - start) * 1000 / (rounds * len(posts)))
    return statistics.median(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rnd = random.Random(17)
    words = {"".join(rnd.choice(CJK) for _ in range(rnd.randint(2, 6))) for _ in range(args.words)}
    # Posts drawn from characters no word uses: nothing matches, everything is scanned.
    other = [chr(c) for c in range(0x6000, 0x6000 + 2000)]
    posts = ["".join(rnd.choice(other) if i % 7 else " " for i in range(1000)) for _ in range(20)]
    matcher = WordMatcher(dict.fromkeys(words, "block"))
    assert all(matcher.find(p) is None for p in posts)
    listed = sorted(words)

    def naive(text: str) -> bool:
        t = normalise(text)
        return any(w in t for w in listed)

    ms = timed(matcher.find, posts, args.rounds)
    base = timed(naive, posts, args.rounds)
    print(f"words={len(words)} post_chars=1000")
    print(f"matcher_ms_per_post={ms:.3f}")
    print(f"baseline_any_in_ms_per_post={base:.3f}")
    print(f"community_filter_ratio={ms / base:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
