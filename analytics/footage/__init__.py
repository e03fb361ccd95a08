"""From a clip file to per-frame measurements: decode and sample (video), label (segment),
smooth (temporal), measure (measure, distress), anonymise previews (privacy), and the pipeline
that runs these steps and hands the result to the store."""

__all__: list[str] = []
