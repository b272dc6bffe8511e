"""Where TF-IDF artefacts trained before model/learned/ became a package look for their
estimators: their pickles name `model.estimators.TextFeatures`, `…word_ngrams` and so on.
The classes live in model/learned/tfidf_estimators.py; artefacts trained since name that."""
from .learned.tfidf_estimators import AttributeHeads, MajorClassifier, Precedents, TextFeatures, word_ngrams

__all__ = ["AttributeHeads", "MajorClassifier", "Precedents", "TextFeatures", "word_ngrams"]
