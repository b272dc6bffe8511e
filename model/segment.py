"""jieba's accurate-mode segmentation (`Tokenizer.lcut(text)`, HMM on), computed faster.

The words are jieba's own, always: the same dictionary (jieba's FREQ and total after the domain
dictionary is added, looked up one first character at a time: model/jieba_dict.py), the same
route (the most probable path through the word graph, ties to the longer word as jieba's max
over (score, end) gives them) and jieba's own HMM
(`jieba.finalseg.cut`) for runs of single characters that are not a word. What changes is the
arithmetic around it: jieba builds the word graph as a dict of lists, then takes a logarithm of
every candidate's count on every call; here each word's log-probability is taken once, the first time
a text contains it, and the graph and the route are walked in one pass. Each score is the same
float jieba computes ((log(count) - log(total)) + the rest of the route, in that order), so the
routes are identical; tests/test_segment.py compares the words with jieba's on the whole corpus.

About half of jieba's time on a title (the bench's 5,000 job rows: 71 µs a matter with jieba,
see bench/results); the segmenter must be rebuilt if words are added to the tokenizer."""
from __future__ import annotations

from math import log


class Segmenter:
    def __init__(self, dictionary):
        """`dictionary`: a model.jieba_dict.ChunkedDictionary, or a jieba Tokenizer (its whole
        FREQ then serves every first character)."""
        import jieba
        from jieba import finalseg

        if hasattr(dictionary, "chunk"):
            self._chunks, self._build = dictionary.chunks, dictionary.chunk
            total = dictionary.total
        else:
            dictionary.check_initialized()
            whole = dictionary.FREQ
            self._chunks: dict[str, dict] = {}
            self._build = lambda ch: self._chunks.setdefault(ch, whole)
            total = dictionary.total
        logtotal = log(total)
        # jieba scores a candidate as log(FREQ.get(word) or 1) - logtotal: a word with a count,
        # or a lone character the dictionary does not know (count 0 or absent: log(1) = 0.0).
        # Taken once per word, when a text first meets it (not for the whole dictionary: that
        # would add seconds of start and tens of MB to every process).
        self._logtotal = logtotal
        self._logp: dict[str, float] = {}
        self._unknown = log(1) - logtotal
        self._re_han = jieba.re_han_default
        self._re_skip = jieba.re_skip_default
        self._hmm = finalseg.cut

    def lcut(self, sentence: str) -> list[str]:
        """The words of `sentence`, as jieba's `Tokenizer.lcut(sentence)` gives them."""
        out: list[str] = []
        re_han, re_skip = self._re_han, self._re_skip
        for blk in re_han.split(sentence):
            if not blk:
                continue
            if re_han.match(blk):
                self._cut_block(blk, out)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out

    def _route(self, s: str) -> list[int]:
        """For each position, the end (inclusive) of the word that starts there on the best path."""
        chunks, build, logp, unknown, logtotal = self._chunks, self._build, self._logp, self._unknown, self._logtotal
        n = len(s)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best_s = best_e = None
            i = k
            frag = s[k]
            freq = chunks.get(frag)  # the entries that start with this character
            if freq is None:
                freq = build(frag)
            while i < n and frag in freq:
                f = freq[frag]
                if f:
                    lp = logp.get(frag)
                    if lp is None:
                        lp = logp[frag] = log(f) - logtotal
                    sc = lp + score[i + 1]
                    # max over (score, end) tuples: a higher score, or the same score and a later end
                    if best_s is None or sc > best_s or (sc == best_s and i > best_e):
                        best_s, best_e = sc, i
                i += 1
                frag = s[k:i + 1]
            if best_s is None:  # no word starts here: the character alone
                best_s, best_e = unknown + score[k + 1], k
            score[k] = best_s
            end[k] = best_e
        return end

    def _cut_block(self, s: str, out: list[str]) -> None:
        end = self._route(s)
        hmm = self._hmm
        x, n, buf = 0, len(s), ""
        while x < n:
            y = end[x] + 1
            if y - x == 1:
                buf += s[x]
            else:
                if buf:
                    self._flush(buf, out, hmm)
                    buf = ""
                out.append(s[x:y])
            x = y
        if buf:
            self._flush(buf, out, hmm)

    def _flush(self, buf: str, out: list[str], hmm) -> None:
        """A run of single characters: one character as it is; several that are not a word
        themselves go through jieba's HMM (it finds the unknown words among them)."""
        if len(buf) == 1:
            out.append(buf)
        elif not (self._chunks.get(buf[0]) or self._build(buf[0])).get(buf):
            out.extend(hmm(buf))
        else:
            out.extend(buf)
