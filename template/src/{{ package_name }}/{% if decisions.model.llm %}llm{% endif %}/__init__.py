"""Self-hosted generation: a causal language model trained, registered, served and monitored.

settings (platform.yaml `llm:`), data (the corpus as training text and question/answer pairs), model
(the tokenizer and the transformers model: build, fine-tune, generate, stream), steps (the Kubeflow
pipeline's steps), serving and triton_model (the Triton model with the vLLM backend's contract) and
client (the one client of both profiles).
"""
