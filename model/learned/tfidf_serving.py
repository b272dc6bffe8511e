"""The TF-IDF model's serving file: the plain data of tfidf_fast.compile_estimators in one
`.npz` (numpy arrays, and three JSON texts stored as byte arrays), no pickle.

The service loads this file instead of the joblib artefact, so it never imports scikit-learn
or scipy (about 1.3 s of start-up and 100 MB per process). The file is derived from the joblib
artefact: `export_serving` writes it (training/train.py calls it after writing the joblib; it
runs as well on an artefact trained before the file existed) and records its sha256 in the
model card beside the joblib's; the file's header names the sha256 of the joblib it came from,
and `load_serving` refuses a file that does not match the card. The file is deterministic: the
same joblib gives the same bytes.

Layout (format 1): header.json {format, source_artifact, source_sha256, blocks (each block's
field, analyser, offset, size, sublinear, binary, norm), meta, n_members, attribute_names,
precedent_min_score}; terms.json (every column's term, in column order); precedents.json (the
precedents' items); arrays idf_<i> (one per block), weights, major_intercept, cal_a, cal_b,
head_intercept, and prec_indptr, prec_indices, prec_data (the precedents by feature, CSC)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .base import REBUILD_HINT, ArtifactError, sha256_file

SERVING_FILE = "tfidf_serving.npz"
FORMAT = 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model gives the same bytes


class NotExportable(ValueError):
    """The artefact holds a part the serving file cannot describe (a foreign analyser); the
    joblib artefact then serves alone."""


def _text_array(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), np.uint8)


def _text_of(arr: np.ndarray):
    return json.loads(arr.tobytes().decode("utf-8"))


def write_serving(plain: dict, path: Path, source_artifact: str, source_sha256: str) -> None:
    """Write the plain data of compile_estimators to `path` (deterministic bytes)."""
    blocks = []
    arrays: dict[str, np.ndarray] = {}
    for i, b in enumerate(plain["blocks"]):
        if callable(b["analyzer"]):
            raise NotExportable(f"block {b.get('name', i)!r} has an analyser the serving file cannot describe")
        blocks.append({k: b[k] for k in ("name", "field", "analyzer", "offset", "size", "sublinear", "binary", "norm")})
        arrays[f"idf_{i}"] = np.asarray(b["idf"], np.float64)
    prec = plain["precedents"]
    header = {"format": FORMAT, "source_artifact": source_artifact, "source_sha256": source_sha256,
              "blocks": blocks, "meta": plain["meta"], "n_members": int(plain["n_members"]),
              "attribute_names": list(plain["attribute_names"]),
              "precedent_min_score": float(prec["min_score"]) if prec else None}
    arrays.update({"header": _text_array(header), "terms": _text_array(list(plain["terms"])),
                   "weights": np.ascontiguousarray(plain["weights"], np.float64),
                   "major_intercept": np.asarray(plain["major_intercept"], np.float64),
                   "cal_a": np.asarray(plain["cal_a"], np.float64), "cal_b": np.asarray(plain["cal_b"], np.float64),
                   "head_intercept": np.asarray(plain["head_intercept"], np.float64)})
    if prec:
        if int(np.max(prec["indices"], initial=0)) >= 2 ** 31:
            raise NotExportable("too many precedents for 32-bit indices")
        arrays.update({"precedents": _text_array(list(prec["items"])),
                       "prec_indptr": np.asarray(prec["indptr"], np.int64),
                       "prec_indices": np.asarray(prec["indices"], np.int32),
                       "prec_data": np.asarray(prec["data"], np.float64)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)


def read_serving(path: Path) -> tuple[dict, dict]:
    """(plain data for CompiledTfidf, header) from a serving file; no pickle is ever read."""
    with np.load(path, allow_pickle=False) as z:
        header = _text_of(z["header"])
        if header.get("format") != FORMAT:
            raise ArtifactError(f"{path.name}: serving file format {header.get('format')!r}, this code reads "
                                f"{FORMAT}; rebuild with `{REBUILD_HINT}`")
        blocks = [{**b, "idf": z[f"idf_{i}"]} for i, b in enumerate(header["blocks"])]
        prec = None
        if "prec_indptr" in z.files:
            prec = {"indptr": z["prec_indptr"], "indices": z["prec_indices"].astype(np.int64),
                    "data": z["prec_data"], "items": _text_of(z["precedents"]),
                    "min_score": header["precedent_min_score"]}
        plain = {"blocks": blocks, "terms": _text_of(z["terms"]), "meta": header["meta"], "weights": z["weights"],
                 "n_members": header["n_members"], "attribute_names": header["attribute_names"],
                 "major_intercept": z["major_intercept"], "cal_a": z["cal_a"], "cal_b": z["cal_b"],
                 "head_intercept": z["head_intercept"], "precedents": prec}
    return plain, header


def serving_file_of(card: dict) -> str | None:
    """The serving file a model card lists (checked by its sha256 like every file), or None."""
    name = (card.get("serving") or {}).get("file")
    return name if name and name in card.get("files", {}) else None


def load_serving(directory: Path, card: dict) -> dict | None:
    """The plain data of the serving file the card lists, after checking that it was made from
    the card's joblib artefact; None when the card lists none (the joblib then serves).
    `card` must come from verify_artifact, which has checked the file's sha256."""
    name = serving_file_of(card)
    if name is None:
        return None
    path = directory / name
    try:
        plain, header = read_serving(path)
    except ArtifactError:
        raise
    except Exception as exc:  # a truncated or foreign file fails in many ways
        raise ArtifactError(f"cannot read {name}: {type(exc).__name__}; rebuild with `{REBUILD_HINT}`") from exc
    source = card.get("artifact")
    if header.get("source_artifact") != source or header.get("source_sha256") != card.get("files", {}).get(source):
        raise ArtifactError(f"{name} was not made from {source} of this model card; rebuild with `{REBUILD_HINT}`")
    return plain


def export_serving(directory: Path, card: dict | None = None, bundle: dict | None = None,
                   write_card: bool = True) -> dict:
    """Write the serving file of the TF-IDF artefact in `directory` and record it in the model
    card (card["serving"] and its sha256 in card["files"]); returns the card.

    `card`: the card to update (default: model_card.json of `directory`, read and checked);
    `bundle`: the unpickled joblib artefact, when the caller has it (training) — else it is
    loaded. `write_card`: write model_card.json back (training writes it itself, later).
    Raises NotExportable where the artefact holds a part the file cannot describe."""
    from .base import verify_artifact
    from .tfidf_fast import compile_estimators

    if card is None:
        card = verify_artifact(directory)
    if card.get("backend", "tfidf") != "tfidf":
        raise NotExportable(f"{directory} holds a {card.get('backend')} model, not a TF-IDF one")
    source = card.get("artifact", "tfidf_model.joblib")
    source_path = directory / source
    source_sha = sha256_file(source_path)
    if card.get("files", {}).get(source) not in (None, source_sha):
        raise ArtifactError(f"{source} does not match its model card; rebuild with `{REBUILD_HINT}`")
    if bundle is None:
        import joblib

        bundle = joblib.load(source_path)
    plain = compile_estimators(bundle["features"], bundle["major"], bundle["attributes"], bundle["precedents"],
                               bundle.get("meta"))
    write_serving(plain, directory / SERVING_FILE, source, source_sha)
    files = dict(card.get("files", {}))
    files[source] = source_sha
    files[SERVING_FILE] = sha256_file(directory / SERVING_FILE)
    card["files"] = files
    card["serving"] = {"file": SERVING_FILE, "format": FORMAT, "made_from": source,
                       "note": "numpy arrays and JSON, no pickle: what the service loads (no scikit-learn); "
                               "derived from the joblib artefact by model.learned.tfidf_serving.export_serving"}
    if write_card:
        (directory / "model_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
    return card


if __name__ == "__main__":  # python -m model.learned.tfidf_serving [directory]
    import sys

    from .base import ARTIFACT_DIR

    where = Path(sys.argv[1]) if len(sys.argv) > 1 else ARTIFACT_DIR
    out = export_serving(where)
    print(f"{where / SERVING_FILE}: sha256 {out['files'][SERVING_FILE]}")
