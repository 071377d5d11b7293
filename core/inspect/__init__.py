"""Looking inside a trained network, in numpy from its weights (no TensorFlow, no run store).

- forward: forward_pass, trace_states, trace_image_numpy (one image read row by row)
- backward: logits_and_input_gradients, jacobian_row_norms (backpropagation through time)
- traces: ImageTrace, StateSummary, summarize_states (one image's states; many images' summary)
- states: unit_order, decision_timestep, fit_pca, PCAProjection, class_mean_states
- attribution: attribute_image, Attribution, class_mean_images (which rows decided)
- memory_curve: memory_curve (how long the network remembers)
- fixed_points: find_update_fixed_points, FixedPoints (where the blank-row dynamics settle)
- stored_analysis: RunAnalysis, AnalysisOutdated (what is computed once per run and kept with it)
- gallery: gallery_table, filter_gallery, confusion_matrix, per_class_accuracy, GalleryQuery
- own_digit: mnist_steps, steps_from_bytes (a user's drawing or picture made like MNIST)

Import from the modules; this package's own import loads none of them.
"""
