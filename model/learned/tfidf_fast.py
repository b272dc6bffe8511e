"""The TF-IDF model's prediction path without scikit-learn or scipy.

The fitted estimators (tfidf_estimators.py) are compiled into plain data (`compile_estimators`):
each vectoriser's vocabulary and idf, one weight matrix whose columns are the calibrated
members' coefficients, the attribute heads' and the explainer's, and an inverted index of the
precedents. The same plain data is what the serving file holds (tfidf_serving.py), so the
service can load it without unpickling scikit-learn at all. A matter then costs its
tokenisation, a few dictionary look-ups and one small gather-and-multiply; no input validation,
no sparse-matrix construction, no joblib dispatch. The probabilities are those of the
scikit-learn pipeline (tests/test_tfidf_fast.py compares them to 1e-9 on the whole corpus).

Extra inputs: the meta block (MetaFeatures: unit kind, level, profile as tokens) is compiled
after the text blocks, in the column order `with_meta` gives the estimators. Every block of the
text union is compiled on its own, with the field of the input it reads (`TextFeatures.fields_`,
block name → field; absent: the matter's text), so a further text field is one more vectoriser
in the union and needs no change here. Vectorisers it does not recognise run through
scikit-learn's own analyser (still exact, just slower, and then there is no serving file)."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

SIMILAR_ROWS = 64  # rows whose precedents are scored together (see CompiledTfidf._similar_batch)

# scikit-learn's whitespace normalisation for character analysers (text._VectorizerMixin).
_WHITE_SPACES = re.compile(r"\s\s+")
_READABLE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")


def char_ngrams(text: str, lo: int, hi: int, lower: bool = True) -> list[str]:
    """The character n-grams scikit-learn's `analyzer="char"` yields, in the same order."""
    if lower:
        text = text.lower()
    text = _WHITE_SPACES.sub(" ", text)
    size = len(text)
    grams = list(text) if lo == 1 else []
    for n in range(2 if lo == 1 else lo, min(hi, size) + 1):
        grams += [text[i:i + n] for i in range(size - n + 1)]
    return grams


def _plain_word(term) -> bool:
    """A word-block feature a reader can take as one phrase: each word of it (a pair is "a_b")
    has two characters or more, and is not a digit fragment shorter than a year."""
    return all(len(w) >= 2 and not (w.isdigit() and len(w) < 4) for w in str(term).split("_"))


def analyzer_spec(vec) -> dict | Callable[[str], Sequence[str]]:
    """How one fitted TfidfVectorizer cuts a text: a plain description where this module knows
    the analyser (the word analyser of tfidf_text.py, scikit-learn's character n-grams), else
    a callable (scikit-learn's own analyser: exact, slower, and not exportable)."""
    from .tfidf_text import word_ngrams

    if vec.analyzer is word_ngrams and vec.input == "content":
        return {"kind": "word_ngrams"}
    if callable(vec.analyzer) and vec.input == "content":
        return vec.analyzer
    if (vec.analyzer == "char" and vec.input == "content" and vec.preprocessor is None
            and vec.strip_accents is None):
        return {"kind": "char", "ngram_range": [int(vec.ngram_range[0]), int(vec.ngram_range[1])],
                "lowercase": bool(vec.lowercase)}
    return vec.build_analyzer()


def _analyser(spec) -> Callable[[str], Sequence[str]]:
    if callable(spec):
        return spec
    if spec["kind"] == "word_ngrams":
        from .tfidf_text import word_ngrams

        return word_ngrams
    if spec["kind"] == "char":
        lo, hi = spec["ngram_range"]
        lower = bool(spec["lowercase"])
        return lambda text: char_ngrams(text, lo, hi, lower)
    raise ValueError(f"unknown analyser {spec!r}")


def compile_estimators(features, major, heads, precedents=None, meta=None) -> dict:
    """The fitted estimators (TextFeatures, MajorClassifier, AttributeHeads, Precedents,
    MetaFeatures) as plain data: what CompiledTfidf runs on and what tfidf_serving.py writes.
    Reads the estimators' attributes only; imports neither scikit-learn nor scipy itself."""
    fields = getattr(features, "fields_", {}) or {}
    blocks, terms = [], []
    offset = 0
    for name, vec in features.union_.transformer_list:
        size = len(vec.vocabulary_)
        block_terms: list = [None] * size
        for term, j in vec.vocabulary_.items():
            block_terms[int(j)] = term
        terms += block_terms
        norm = vec.norm
        if norm not in ("l2", "l1", None):
            raise ValueError(f"unsupported norm {norm!r}")
        blocks.append({"name": name, "field": fields.get(name), "analyzer": analyzer_spec(vec), "offset": offset,
                       "size": size, "sublinear": bool(vec.sublinear_tf), "binary": bool(vec.binary), "norm": norm,
                       "idf": (np.asarray(vec.idf_, np.float64) if getattr(vec, "use_idf", True)
                               else np.ones(size))})
        offset += size
    if len(features.names_) != offset:
        raise ValueError("feature names do not match the vectorisers' vocabularies")
    if list(features.names_) != terms:
        raise ValueError("feature names are not the vectorisers' vocabularies in column order")
    meta_plain = None
    if meta is not None:  # binary tokens × weight, appended after the text columns
        size = len(meta.vocabulary_)
        meta_terms: list = [None] * size
        for term, j in meta.vocabulary_.items():
            meta_terms[int(j)] = term
        if list(meta.names_) != meta_terms:
            raise ValueError("meta token names are not the meta vocabulary in column order")
        terms += meta_terms
        meta_plain = {"weight": float(meta.weight), "offset": offset, "size": size}
    # One weight matrix, one gather per matter: [calibrated members | attribute heads | explainer].
    attribute_names = list(heads.heads_)
    cols = [major.coef_]
    if attribute_names:
        cols.append(np.vstack([heads.heads_[n].coef_[0] for n in attribute_names]))
    cols.append(major.explainer_.coef_[:1])
    plain = {"blocks": blocks, "terms": terms, "meta": meta_plain,
             "weights": np.ascontiguousarray(np.vstack(cols).T, dtype=np.float64),  # [features, members+heads+1]
             "n_members": int(major.coef_.shape[0]), "attribute_names": attribute_names,
             "major_intercept": np.asarray(major.intercept_, dtype=np.float64),
             "cal_a": np.asarray(major.cal_a_, dtype=np.float64), "cal_b": np.asarray(major.cal_b_, dtype=np.float64),
             "head_intercept": np.array([heads.heads_[n].intercept_[0] for n in attribute_names], dtype=np.float64),
             "precedents": None}
    if precedents is not None and getattr(precedents, "items_", None):
        matrix = precedents.matrix_.tocsc()  # column j = the precedents carrying feature j
        matrix.sort_indices()
        import inspect

        min_score = 0.15
        default = inspect.signature(type(precedents).query).parameters.get("min_score")
        if default is not None and default.default is not inspect.Parameter.empty:
            min_score = float(default.default)
        plain["precedents"] = {"indptr": np.asarray(matrix.indptr, np.int64),
                               "indices": np.asarray(matrix.indices, np.int64),
                               "data": np.asarray(matrix.data, np.float64),
                               "items": list(precedents.items_), "min_score": min_score}
    return plain


class _Block:
    """One fitted TfidfVectorizer of the union: analyser, vocabulary (global column indices)
    and idf, applied exactly as TfidfVectorizer.transform does."""

    def __init__(self, plain: dict, terms: list[str]):
        offset, size = plain["offset"], plain["size"]
        self.offset, self.size = offset, size
        self.field = plain["field"]
        self.vocab = dict(zip(terms[offset:offset + size], range(offset, offset + size)))
        self.idf = np.zeros(offset + size)
        self.idf[offset:] = plain["idf"]
        self.sublinear = bool(plain["sublinear"])
        self.binary = bool(plain["binary"])
        self.norm = plain["norm"]
        if self.norm not in ("l2", "l1", None):
            raise ValueError(f"unsupported norm {self.norm!r}")
        self.analyse = _analyser(plain["analyzer"])
        spec = plain["analyzer"]
        self.words = isinstance(spec, dict) and spec.get("kind") == "word_ngrams"

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted column indices, tf-idf values) of one text."""
        js = [j for j in map(self.vocab.get, self.analyse(text)) if j is not None]
        if not js:
            return np.empty(0, np.int64), np.empty(0)
        idx, counts = np.unique(np.array(js, np.int64), return_counts=True)  # sorted, like a CSR row
        data = counts.astype(np.float64)
        if self.binary:
            data[:] = 1.0
        if self.sublinear:
            np.log(data, data)
            data += 1.0
        data *= self.idf[idx]
        if self.norm == "l2":
            norm = np.sqrt(np.dot(data, data))
            if norm > 0:
                data /= norm
        elif self.norm == "l1":
            norm = np.abs(data).sum()
            if norm > 0:
                data /= norm
        return idx, data


class CompiledTfidf:
    """TextFeatures + MajorClassifier + AttributeHeads + Precedents as arrays.

    Built from plain data (`compile_estimators`, or the serving file of tfidf_serving.py: the
    same data, so the same numbers). `rows(items)` gives each item's sparse feature vector;
    `scores(idx, data)` its calibrated P(major), attribute probabilities and per-feature
    contributions; `similar(idx, data, k)` its nearest precedents. No scikit-learn, no scipy."""

    def __init__(self, plain: dict):
        terms = plain["terms"]
        self.blocks = [_Block(b, terms) for b in plain["blocks"]]
        offset = sum(b["size"] for b in plain["blocks"])
        self.meta = plain["meta"]
        if self.meta is not None:
            from .tfidf_text import meta_tokens

            self._meta_tokens = meta_tokens
            lo, size = self.meta["offset"], self.meta["size"]
            self.meta_vocab = dict(zip(terms[lo:lo + size], range(lo, lo + size)))
            self.meta_weight = float(self.meta["weight"])
            offset += size
        if len(terms) != offset:
            raise ValueError("the terms do not match the blocks' sizes")
        self.n_features = offset
        # Single characters and punctuation-bearing n-grams explain nothing to a reader; decided
        # once per feature instead of once per matter.
        self.term_names = [str(n).replace("_", "") for n in terms]
        self.readable = np.array([len(n) >= 2 and _READABLE.fullmatch(n) is not None for n in self.term_names])
        # The word block's single words (not its word pairs, "a_b"): what `known_words` counts.
        self.word_column = np.zeros(offset, bool)
        for block in self.blocks:
            if block.words:
                lo, hi = block.offset, block.offset + block.size
                self.word_column[lo:hi] = ["_" not in str(t) for t in terms[lo:hi]]
        # Which features may be named to a reader (the numbers are unchanged): a word pair only
        # where both are words of two characters or more ("项目完成", not "项目的" or "年民生实事"),
        # and a character n-gram only where it is also such a word ("财政", not "级财政预", a
        # slice across two words). Digit fragments shorter than a year ("20") say nothing.
        if any(b.words for b in self.blocks):
            words = {self.term_names[j] for j in np.flatnonzero(self.word_column) if _plain_word(terms[j])}
            for block in self.blocks:
                lo, hi = block.offset, block.offset + block.size
                if block.words:
                    self.readable[lo:hi] &= [_plain_word(t) for t in terms[lo:hi]]
                else:
                    self.readable[lo:hi] &= [n in words for n in self.term_names[lo:hi]]
        self.weights = np.ascontiguousarray(plain["weights"], dtype=np.float64)
        if self.weights.shape[0] != offset:
            raise ValueError("the weight matrix does not match the features")
        self.n_members = int(plain["n_members"])
        self.attribute_names = list(plain["attribute_names"])
        self.major_intercept = np.asarray(plain["major_intercept"], dtype=np.float64)
        self.cal_a = np.asarray(plain["cal_a"], dtype=np.float64)
        self.cal_b = np.asarray(plain["cal_b"], dtype=np.float64)
        self.head_intercept = np.asarray(plain["head_intercept"], dtype=np.float64)
        self._precedents(plain["precedents"])
        for block in self.blocks:  # load the tokeniser's dictionary (jieba) now, not on the first matter
            block.analyse("预热")

    def _precedents(self, prec: dict | None) -> None:
        """Precedent vectors by feature: the features most precedents carry (common characters)
        as dense rows, one gather and one product per query; the rest as an inverted index."""
        self.precedent_items: list[dict] = []
        self.precedent_min_score = 0.15
        if not prec or not prec["items"]:
            self.by_feature = None
            return
        indptr = np.asarray(prec["indptr"], np.int64)
        docs = np.asarray(prec["indices"], np.int64)
        weights = np.asarray(prec["data"], np.float64)
        self.by_feature = (indptr, docs, weights)
        self.precedent_items = list(prec["items"])
        self.precedent_min_score = float(prec["min_score"])
        n_docs = len(self.precedent_items)
        df = np.diff(indptr)
        dense = np.flatnonzero(df > max(32, n_docs // 20))
        self.dense_row = np.full(len(df), -1, np.int64)
        self.dense_row[dense] = np.arange(len(dense))
        # [dense features, precedents]: the columns of those features, written out
        self.dense = np.zeros((len(dense), n_docs))
        lengths = df[dense]
        pos = _ranges(indptr[dense], lengths)
        self.dense[np.repeat(np.arange(len(dense)), lengths), docs[pos]] = weights[pos]

    def row(self, item: str | Mapping, meta: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, values) of one input: a text, or a mapping with the text under
        "text" and any extra fields the blocks read; `meta` feeds the meta block, if any."""
        parts_i, parts_d = [], []
        for block in self.blocks:
            if isinstance(item, str):
                text = item if block.field is None else ""
            else:
                text = item.get(block.field or "text") or ""
            i, d = block.vector(text)
            parts_i.append(i)
            parts_d.append(d)
        if self.meta is not None:
            counts = Counter(j for j in map(self.meta_vocab.get, self._meta_tokens(meta)) if j is not None)
            cols = sorted(counts)
            parts_i.append(np.array(cols, np.int64))
            parts_d.append(np.array([counts[j] * self.meta_weight for j in cols], np.float64))
        if len(parts_i) == 1:
            return parts_i[0], parts_d[0]
        return np.concatenate(parts_i), np.concatenate(parts_d)

    def _block_entries(self, block: _Block, items: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of one block over a batch, sorted by row then column: the
        same arithmetic as `_Block.vector`, once per batch instead of once per row."""
        get = block.vocab.get
        cols: list[int] = []
        lengths = []
        for item in items:
            if isinstance(item, str):
                text = item if block.field is None else ""
            else:
                text = item.get(block.field or "text") or ""
            js = [j for j in map(get, block.analyse(text)) if j is not None]
            cols += js
            lengths.append(len(js))
        if not cols:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        keys = np.repeat(np.arange(len(items), dtype=np.int64), lengths) * self.n_features + np.array(cols, np.int64)
        keys, counts = np.unique(keys, return_counts=True)
        rows, cols_a = np.divmod(keys, self.n_features)
        data = counts.astype(np.float64)
        if block.binary:
            data[:] = 1.0
        if block.sublinear:
            np.log(data, data)
            data += 1.0
        data *= block.idf[cols_a]
        if block.norm is not None:
            mass = data * data if block.norm == "l2" else np.abs(data)
            norms = np.bincount(rows, weights=mass, minlength=len(items))
            if block.norm == "l2":
                norms = np.sqrt(norms)
            norms[norms == 0] = 1.0
            data /= norms[rows]
        return rows, cols_a, data

    def rows(self, items: Sequence, metas: Sequence | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch as CSR arrays (indptr, column indices, values), rows as `row` gives them."""
        n = len(items)
        parts = [self._block_entries(b, items) for b in self.blocks]
        if self.meta is not None:
            r_meta, c_meta = [], []
            for i, m in enumerate(metas if metas is not None else [None] * n):
                for j in map(self.meta_vocab.get, self._meta_tokens(m)):
                    if j is not None:
                        r_meta.append(i)
                        c_meta.append(j)
            counts = Counter(zip(r_meta, c_meta))
            pairs = sorted(counts)
            parts.append((np.array([r for r, _ in pairs], np.int64), np.array([c for _, c in pairs], np.int64),
                          np.array([counts[rc] * self.meta_weight for rc in pairs], np.float64)))
        rows = np.concatenate([p[0] for p in parts])
        cols = np.concatenate([p[1] for p in parts])
        data = np.concatenate([p[2] for p in parts])
        order = np.lexsort((cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return indptr, cols, data

    def predict_batch(self, items: Sequence, metas: Sequence | None = None, k: int = 0
                      ) -> list[tuple[float, dict[str, float], list[tuple[str, float]], list[dict], int]]:
        """(P(major), attributes, terms, precedents, known words) per item, computed for the
        batch at once."""
        n = len(items)
        if not n:
            return []
        indptr, cols, data = self.rows(items, metas)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        # X @ weights, one column at a time: entries summed in row order, as a CSR product does
        Z = np.empty((n, self.weights.shape[1]))
        for c in range(self.weights.shape[1]):
            Z[:, c] = np.bincount(rows, weights=self.weights[cols, c] * data, minlength=n)
        m, h = self.n_members, len(self.attribute_names)
        f = Z[:, :m] + self.major_intercept
        probs = np.mean(1.0 / (1.0 + np.exp(self.cal_a * f + self.cal_b)), axis=1)
        attrs = 1.0 / (1.0 + np.exp(-(Z[:, m:m + h] + self.head_intercept)))
        contributions = data * self.weights[cols, -1]
        similar = self._similar_batch(indptr, cols, data, k) if k else [[] for _ in range(n)]
        terms = self._terms_batch(rows, cols, contributions, probs)
        known = np.bincount(rows[self.word_column[cols]], minlength=n).tolist()
        names = self.attribute_names
        return [(p, dict(zip(names, a)), t, sim, kw)
                for p, a, t, sim, kw in zip(probs.tolist(), attrs.tolist(), terms, similar, known)]

    def _terms_batch(self, rows: np.ndarray, cols: np.ndarray, contributions: np.ndarray, probs: np.ndarray,
                     limit: int = 8) -> list[list[tuple[str, float]]]:
        """`terms` of every row of a batch: the candidates of all rows ranked in one sort (by row,
        then as `terms` ranks them), then each row's list picked from its slice."""
        n = len(probs)
        signed = np.where(probs[rows] >= 0.5, contributions, -contributions)
        cand = np.flatnonzero((signed > 0) & self.readable[cols])
        order = cand[np.lexsort((cols[cand], -signed[cand], rows[cand]))]
        bounds = np.searchsorted(rows[order], np.arange(n + 1)).tolist()
        names = self.term_names
        col_list, contrib_list = cols[order].tolist(), contributions[order].tolist()
        out: list[list[tuple[str, float]]] = []
        for i in range(n):
            picked: list[tuple[str, float]] = []
            chosen: list[str] = []
            for j in range(bounds[i], bounds[i + 1]):
                name = names[col_list[j]]
                for t in chosen:
                    if name in t or t in name:
                        break
                else:
                    chosen.append(name)
                    picked.append((name, round(contrib_list[j], 4)))
                    if len(picked) == limit:
                        break
            out.append(picked)
        return out

    def _similar_batch(self, indptr: np.ndarray, cols: np.ndarray, data: np.ndarray, k: int) -> list[list[dict]]:
        """Precedents of every row, SIMILAR_ROWS rows at a time: the score matrix of a chunk
        (rows × precedents) then stays in the CPU's cache. One matrix for a batch of 256
        (4.4 MB, with the bincount beside it as much again) pushed the rest of the pipeline's
        data out of it: about 20 µs a matter more over the whole batch."""
        n = len(indptr) - 1
        if self.by_feature is None:
            return [[] for _ in range(n)]
        if n <= SIMILAR_ROWS:
            return self._similar_chunk(indptr, cols, data, k)
        out: list[list[dict]] = []
        for a in range(0, n, SIMILAR_ROWS):
            b = min(n, a + SIMILAR_ROWS)
            lo, hi = indptr[a], indptr[b]
            out += self._similar_chunk(indptr[a:b + 1] - lo, cols[lo:hi], data[lo:hi], k)
        return out

    def _similar_chunk(self, indptr: np.ndarray, cols: np.ndarray, data: np.ndarray, k: int) -> list[list[dict]]:
        n = len(indptr) - 1
        f_indptr, docs, weights = self.by_feature
        n_text, n_docs = len(f_indptr) - 1, len(self.precedent_items)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        keep = cols < n_text  # the precedents know the text columns only (not meta)
        rows, cols, data = rows[keep], cols[keep], data[keep]
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=n))
        norms[norms == 0] = 1.0
        q = data / norms[rows]
        dense_rows = self.dense_row[cols]
        in_dense = dense_rows >= 0
        # only the dense rows this batch carries (a hundred or so of several hundred)
        used, where = np.unique(dense_rows[in_dense], return_inverse=True)
        Q = np.zeros((n, len(used)))
        Q[rows[in_dense], where] = q[in_dense]
        sims = Q @ self.dense[used]
        rest = ~in_dense
        r_rest, c_rest, q_rest = rows[rest], cols[rest], q[rest]
        lengths = f_indptr[c_rest + 1] - f_indptr[c_rest]
        if lengths.sum():  # the inverted index: every (query feature, precedent) entry in one array
            pos = _ranges(f_indptr[c_rest], lengths)
            flat = np.repeat(r_rest, lengths) * n_docs + docs[pos]
            sims += np.bincount(flat, weights=weights[pos] * np.repeat(q_rest, lengths),
                                minlength=n * n_docs).reshape(n, n_docs)
        # Rank only what can be shown (at or above the minimum score): by row, score, corpus order.
        r, j = np.nonzero(sims >= self.precedent_min_score)
        score = sims[r, j]
        order = np.lexsort((j, -score, r))
        r, j, score = r[order], j[order], score[order]
        first = np.searchsorted(r, np.arange(n))
        shown = (np.arange(len(r)) - first[r]) < k
        out: list[list[dict]] = [[] for _ in range(n)]
        for i, jj, sc in zip(r[shown].tolist(), j[shown].tolist(), score[shown].tolist()):
            out[i].append({**self.precedent_items[jj], "score": round(sc, 4)})
        return out

    def scores(self, idx: np.ndarray, data: np.ndarray) -> tuple[float, dict[str, float], np.ndarray]:
        """(P(major), {attribute: probability}, per-feature contributions to the major score)."""
        z = data @ self.weights[idx] if len(idx) else np.zeros(self.weights.shape[1])
        m = self.n_members
        f = z[:m] + self.major_intercept
        p = float(np.mean(1.0 / (1.0 + np.exp(self.cal_a * f + self.cal_b))))
        h = z[m:m + len(self.attribute_names)] + self.head_intercept
        attrs = 1.0 / (1.0 + np.exp(-h))
        contributions = data * self.weights[idx, -1]
        return p, dict(zip(self.attribute_names, attrs.tolist())), contributions

    def known_words(self, idx: np.ndarray) -> int:
        """How many of one row's columns are single words of the word block."""
        return int(np.count_nonzero(self.word_column[np.asarray(idx, np.int64)]))

    def terms(self, idx: np.ndarray, contributions: np.ndarray, probability: float,
              limit: int = 8) -> list[tuple[str, float]]:
        """The readable phrases that pushed the score the way it went, strongest first (ties by
        column), skipping overlapping repeats of a phrase already listed: `_terms_batch` of one row."""
        idx = np.asarray(idx, dtype=np.int64)
        contributions = np.asarray(contributions, dtype=np.float64)
        return self._terms_batch(np.zeros(len(idx), np.int64), idx, contributions,
                                 np.array([probability], np.float64), limit)[0]

    def similar(self, idx: np.ndarray, data: np.ndarray, k: int) -> list[dict]:
        """The k most similar precedents by cosine (those at or above the minimum score)."""
        if self.by_feature is None or not k or not len(idx):
            return []
        indptr, docs, weights = self.by_feature
        # The precedents know only the columns they were fitted on (the text blocks); later
        # columns (the meta tokens) take no part in the match, as in Precedents.query.
        keep = idx < len(indptr) - 1
        idx, data = idx[keep], data[keep]
        if not len(idx):
            return []
        norm = np.sqrt(np.dot(data, data))
        if norm == 0:
            return []
        q = data / norm
        rows = self.dense_row[idx]
        in_dense = rows >= 0
        sims = q[in_dense] @ self.dense[rows[in_dense]]
        rest, q_rest = idx[~in_dense], q[~in_dense]
        starts = indptr[rest]
        lengths = indptr[rest + 1] - starts
        total = int(lengths.sum())
        if total:
            pos = _ranges(starts, lengths)  # every (feature, precedent) entry of the remaining features
            sims = sims + np.bincount(docs[pos], weights=weights[pos] * np.repeat(q_rest, lengths),
                                      minlength=len(self.precedent_items))
        # Only precedents at or above the minimum score are shown: rank those alone (by score,
        # then corpus order), not every precedent.
        cand = np.flatnonzero(sims >= self.precedent_min_score)
        top = cand[np.lexsort((cand, -sims[cand]))[:k]]
        return [{**self.precedent_items[i], "score": round(float(sims[i]), 4)} for i in top.tolist()]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, … start+length-1 of every (start, length) pair, in one array."""
    total = int(lengths.sum())
    return np.arange(total) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
