"""Retrieval-augmented generation: corpus -> chunks -> embeddings -> vector store -> cited answers.

settings (platform.yaml `rag:`), corpus (documents, chunks, labelled questions), embedder (the
sentence-transformers model), retrieval (BM25, dense, hybrid; cited answers), evaluation (recall@k,
MRR, the gate), store (Qdrant), steps (the Kubeflow pipeline's steps), ingest (the Airflow DAG's
steps) and serving (the Triton model).
"""
