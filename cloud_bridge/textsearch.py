"""Search over short Chinese (and English) texts: jieba words, synonyms, BM25 ranking.

Shared by the domains that search what people type: the knowledge base's FAQ search and
suggestions while a shopper types a chat message (:mod:`cloud_bridge.service.kb`), and
the search-keyword report (:mod:`cloud_bridge.analytics.keywords`).

Words come from jieba's search mode, which also gives the parts of long words
(``鲜牛奶`` -> ``牛奶``, ``鲜牛奶``), so ``牛奶`` finds an article that says ``鲜牛奶``.
Ranking is Okapi BM25 with the title weighted above the body; a query word also matches
every word of its synonym group (``退款`` finds ``退钱``) at a lower weight than itself,
so an article that uses the shopper's own word ranks first.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)
STOPWORDS = frozenset({
    "的", "了", "和", "与", "及", "或", "在", "是", "有", "个", "买", "要", "吗", "呢", "吧",
    "啊", "我", "你", "怎么", "如何", "什么", "可以", "能", "请问", "一下",
    "the", "a", "an", "to", "of", "and", "or", "is", "are", "how", "can", "i", "do", "my",
})
K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0     # a word in the title counts as this many in the body
SYNONYM_WEIGHT = 0.6   # a synonym's match, against the shopper's own word's 1.0


@cache
def _jieba() -> ModuleType:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # load the dictionary once, not on the first shopper's keystroke
    return jieba


def words(text: str) -> list[str]:
    """Every word of ``text`` (lower-cased, punctuation and stop words dropped), repeats kept."""
    out = []
    for word in _jieba().lcut_for_search(text.strip().lower()):
        word = word.strip()
        if word and not _PUNCT.match(word) and word not in STOPWORDS:
            out.append(word)
    return out


def tokenize(text: str) -> list[str]:
    """The distinct words of ``text`` in the order they first appear."""
    return list(dict.fromkeys(words(text)))


@dataclass(slots=True)
class _Doc:
    tf: dict[str, float]  # weighted term counts (a title word counts TITLE_WEIGHT)
    length: float


@dataclass
class Bm25Index:
    """An in-memory BM25 index of documents made of a title and a body.

    Built once per change of the documents (the knowledge base caches it per version);
    a search is a few dictionary look-ups per query word.
    """

    docs: dict[int, _Doc] = field(default_factory=dict)
    postings: dict[str, set[int]] = field(default_factory=dict)
    total_length: float = 0.0

    def add(self, doc_id: int, title: str, body: str) -> None:
        tf: defaultdict[str, float] = defaultdict(float)
        for w in words(title):
            tf[w] += TITLE_WEIGHT
        for w in words(body):
            tf[w] += 1.0
        length = sum(tf.values())
        self.docs[doc_id] = _Doc(tf, length)
        self.total_length += length
        for w in tf:
            self.postings.setdefault(w, set()).add(doc_id)

    def _idf(self, word: str) -> float:
        n = len(self.postings.get(word, ()))
        return math.log(1 + (len(self.docs) - n + 0.5) / (n + 0.5))

    def search(self, query: str, *, synonyms: Mapping[str, Iterable[str]] | None = None,
               allowed: set[int] | None = None, limit: int = 10) -> list[tuple[int, float]]:
        """``(doc_id, score)`` best first; ``allowed`` limits the documents considered."""
        if not self.docs:
            return []
        weights: dict[str, float] = {}
        for w in tokenize(query):
            weights[w] = 1.0
            for syn in (synonyms or {}).get(w, ()):
                for part in tokenize(syn):   # a synonym is found as the index cut it
                    weights.setdefault(part, SYNONYM_WEIGHT)
        avg = self.total_length / len(self.docs)
        scores: dict[int, float] = {}
        for w, weight in weights.items():
            ids = self.postings.get(w)
            if not ids:
                continue
            idf = self._idf(w)
            for doc_id in ids:
                if allowed is not None and doc_id not in allowed:
                    continue
                doc = self.docs[doc_id]
                f = doc.tf[w]
                gain = idf * f * (K1 + 1) / (f + K1 * (1 - B + B * doc.length / avg))
                scores[doc_id] = scores.get(doc_id, 0.0) + weight * gain
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]


def synonym_map(groups: Iterable[Iterable[str]]) -> dict[str, set[str]]:
    """Word -> the other words of its groups (each word lower-cased)."""
    out: dict[str, set[str]] = {}
    for group in groups:
        members = {w.strip().lower() for w in group if w.strip()}
        for w in members:
            out.setdefault(w, set()).update(members - {w})
    return out
