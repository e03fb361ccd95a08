"""Models: safe checkpoint reading, the architecture registry and builders, fetching and the model zoo.

Public entry points (``import analytics.models`` imports none of them, so it stays cheap):

- :func:`analytics.models.checkpoint.read_state_dict` - a PyTorch checkpoint as numpy arrays, no code run;
- :data:`analytics.models.architectures.ARCHITECTURES` - the architectures UrbanLens builds from
  upstream weights, by the name model cards use (adding one: see that module);
- :func:`analytics.models.espnetv2.build_espnetv2` - the ESPNetv2 segmentation network as an ONNX graph;
- :func:`analytics.models.fetch.fetch_file` - a verified copy of an upstream file (mirror, source or download);
- :func:`analytics.models.samples.download_samples` - the public sample clips, fetched the same way;
- :func:`analytics.models.zoo.install`, :func:`~analytics.models.zoo.resolve`,
  :func:`~analytics.models.zoo.add_model`, :func:`~analytics.models.zoo.list_models` - the model zoo.
"""

__all__: list[str] = []
