"""Models: safe checkpoint reading, the ESPNetv2 ONNX builder, fetching and the model zoo.

Public entry points (imported lazily by their callers, so ``import analytics.models`` stays cheap):

- :func:`analytics.models.checkpoint.read_state_dict` - a PyTorch checkpoint as numpy arrays, no code run;
- :func:`analytics.models.espnetv2.build_espnetv2` - the ESPNetv2 segmentation network as an ONNX graph;
- :func:`analytics.models.fetch.fetch_file` - a verified copy of an upstream file (mirror, source or download);
- :func:`analytics.models.zoo.install`, :func:`~analytics.models.zoo.resolve`,
  :func:`~analytics.models.zoo.add_model`, :func:`~analytics.models.zoo.list_models` - the model zoo.
"""
