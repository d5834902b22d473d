"""The causal language model on one transformers code path (model.py) and its settings (params.py):
the text-generation project's served model and the search/RAG project's answer generator."""
