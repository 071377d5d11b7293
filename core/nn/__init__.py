"""The network: its Keras model, the training loop, and its weights as numpy arrays.

- model: build_model (imports TensorFlow)
- fused_step: fused_vanilla_logits, the vanilla cell's faster training forward pass (TensorFlow)
- training_loop: train, TrainingOutcome, make_optimizer (TensorFlow)
- weights: NetworkWeights, CELLS, GATES, softmax, log_softmax (numpy only)

Import from the modules; this package's own import loads none of them, so reading a run's weights
never imports TensorFlow.
"""
