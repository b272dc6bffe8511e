"""jieba's prefix dictionary (every word and word prefix with its count), built one first
character at a time, when a text first needs it.

The segmenter only ever looks up fragments that start at one position of the text, so it can ask
for the words starting with that character alone. Building all 498,000 entries as one dict took
0.15–0.2 s of every process's start and about 55 MB of its memory, and most of it is never
read: a process builds the groups of the characters its texts contain (the whole corpus touches
1,889 characters, 78 % of the entries; a day's requests far fewer).

The words and counts are jieba's own: the cache is written from jieba's loading of its own
dictionary (`Tokenizer.initialize`), and the domain dictionary is applied to each group as
jieba's `load_userdict` / `add_word` would apply it to the whole. tests/test_jieba_dict.py
compares every group with a jieba tokenizer's FREQ, and tests/test_segment.py the words.

The cache sits in the temporary folder beside jieba's own, keyed by jieba's version and its
dictionary file; a missing, foreign (another user's) or unreadable cache is rebuilt."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE_FORMAT = 2  # bump when the file's layout changes: an older cache is then ignored


class ChunkedDictionary:
    """`chunk(ch)` is the dict of every entry that starts with `ch` (words and prefixes, with
    their counts): the same keys and values jieba's FREQ has for them. `total` is jieba's total
    after the domain words are added. Safe to share between threads: a group is built whole
    before it is published, and building one twice gives the same dict."""

    def __init__(self, blob: bytes, counts, heads: str, word_starts: list[int], byte_starts: list[int],
                 total: int, user_words: list[tuple[str, int]]):
        self._blob = blob
        self._counts = counts
        self._where = {h: i for i, h in enumerate(heads)}
        self._word_starts = word_starts
        self._byte_starts = byte_starts
        self._user: dict[str, list[tuple[str, int]]] = {}
        for word, freq in user_words:
            self._user.setdefault(word[0], []).append((word, freq))
        self.total = total + sum(freq for _, freq in user_words)
        self.chunks: dict[str, dict[str, int]] = {}

    def chunk(self, ch: str) -> dict[str, int]:
        found = self.chunks.get(ch)
        if found is not None:
            return found
        i = self._where.get(ch)
        if i is None:
            d: dict[str, int] = {}
        else:
            words = self._blob[self._byte_starts[i]:self._byte_starts[i + 1]].decode("utf-8").split("\n")
            d = dict(zip(words, self._counts[self._word_starts[i]:self._word_starts[i + 1]].tolist()))
        # add_word, in the domain file's order: the word's count (a later line wins), then each
        # of its prefixes not yet known with count 0. All of them start with `ch`.
        for word, freq in self._user.get(ch, ()):
            d[word] = freq
            for end in range(1, len(word) + 1):
                d.setdefault(word[:end], 0)
        self.chunks[ch] = d
        return d

    def __len__(self) -> int:  # entries in jieba's dictionary, before the domain words
        return len(self._counts)


def read_user_words(path: Path) -> list[tuple[str, int]] | None:
    """The domain dictionary's (word, count) lines, read as jieba's load_userdict reads them.
    None when a line has no count or a count of 0: jieba then computes a count from the whole
    dictionary (suggest_freq) or forces a split, which a group alone cannot reproduce."""
    import jieba

    out = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.strip().decode("utf-8").lstrip("\ufeff")
        if not line:
            continue
        word, freq, _tag = jieba.re_userdict.match(line).groups()
        if freq is None or int(freq) == 0:
            return None
        out.append((word, int(freq)))
    return out


def _cache_path() -> Path | None:
    import jieba

    source = Path(jieba.__file__).resolve().parent / "dict.txt"
    if not source.exists():
        return None
    st = source.stat()
    return Path(tempfile.gettempdir()) / (f"decision-screen-jieba-heads{CACHE_FORMAT}-{jieba.__version__}-"
                                          f"{st.st_size}-{st.st_mtime_ns}.npz")


def load(user_dict: Path | None) -> ChunkedDictionary | None:
    """jieba's default dictionary with the domain words, by first character; None where that
    cannot be done exactly (jieba without its dictionary file, or a domain line without a count):
    the caller then uses a jieba tokenizer."""
    import numpy as np

    user_words: list[tuple[str, int]] = []
    if user_dict is not None and user_dict.exists():
        read = read_user_words(user_dict)
        if read is None:
            return None
        user_words = read
    cache = _cache_path()
    if cache is None:
        return None
    try:
        if cache.stat().st_uid == os.getuid():  # only a file this user wrote
            with np.load(cache, allow_pickle=False) as z:
                counts = z["counts"]
                heads = z["heads"].tobytes().decode("utf-8")
                word_starts, byte_starts = z["word_starts"].tolist(), z["byte_starts"].tolist()
                blob = z["blob"].tobytes()
                if (len(heads) + 1 == len(word_starts) == len(byte_starts) and word_starts[-1] == len(counts)
                        and byte_starts[-1] == len(blob)):
                    return ChunkedDictionary(blob, counts, heads, word_starts, byte_starts, int(z["total"]),
                                             user_words)
    except Exception:  # noqa: BLE001, S110  (missing, truncated, foreign: rebuilt below)
        pass
    built = _build()
    if built is None:
        return None
    _write(cache, built)
    return ChunkedDictionary(*built[:6], user_words)


def _build():
    """jieba's own dictionary, loaded by jieba (about 0.6 s, once per machine), grouped by first
    character."""
    import logging

    import jieba
    import numpy as np

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    freq = tk.FREQ
    if any(not w or "\n" in w for w in freq):
        return None
    groups: dict[str, list[str]] = {}
    for w in freq:
        groups.setdefault(w[0], []).append(w)
    heads = "".join(groups)
    words: list[str] = []
    word_starts, byte_starts, parts = [0], [0], []
    for h in heads:
        part = "\n".join(groups[h]).encode("utf-8")
        words += groups[h]
        parts.append(part)
        word_starts.append(len(words))
        byte_starts.append(byte_starts[-1] + len(part))
    counts = np.array([freq[w] for w in words], np.int64)
    return b"".join(parts), counts, heads, word_starts, byte_starts, int(tk.total)


def _write(cache: Path, built) -> None:
    import numpy as np

    blob, counts, heads, word_starts, byte_starts, total = built
    try:
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, blob=np.frombuffer(blob, np.uint8), counts=counts,
                     heads=np.frombuffer(heads.encode("utf-8"), np.uint8),
                     word_starts=np.array(word_starts, np.int64), byte_starts=np.array(byte_starts, np.int64),
                     total=np.int64(total))
        os.replace(tmp, cache)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
