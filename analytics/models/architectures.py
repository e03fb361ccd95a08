"""The architectures UrbanLens can build from upstream weights, by the name model cards give them.

A built-in card's ``architecture`` field (e.g. ``architecture = "espnetv2"``) names an entry of
:data:`ARCHITECTURES`; ``urbanlens models install`` reads the card's upstream weights with the
entry's checkpoint reader and writes the ONNX graph with the entry's builder module.

Adding an architecture is one builder module and one entry here:

1. ``analytics/models/<name>.py`` with two functions::

       def check_input_size(height: int, width: int) -> tuple[int, int]:
           '''(height, width) if the graph can be built at that size, else raise InputError.'''

       def build_from_card(state_dict: dict[str, np.ndarray], card: ModelCard, height: int, width: int) -> onnx.ModelProto:
           '''The network as an ONNX graph for a (height, width) input; card.params holds its options.'''

2. ``"<name>": Architecture("<name>", "analytics.models.<name>")`` in :data:`ARCHITECTURES`
   (give ``read_weights`` when the upstream file is not a PyTorch ``state_dict``).

A card naming the architecture then installs like the built-in ESPNetv2 cards.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from analytics.cards import ModelCard
from analytics.errors import ModelError
from analytics.models.checkpoint import read_state_dict

if TYPE_CHECKING:
    import onnx

__all__ = ["ARCHITECTURES", "Architecture", "BuilderModule", "get_architecture"]


class BuilderModule(Protocol):
    """What a builder module provides (see the module doc)."""

    def check_input_size(self, height: int, width: int) -> tuple[int, int]: ...

    def build_from_card(
        self, state_dict: dict[str, np.ndarray], card: ModelCard, height: int, width: int
    ) -> onnx.ModelProto: ...


@dataclass(frozen=True)
class Architecture:
    """How the upstream weights of one architecture become an ONNX graph.

    ``builder`` is the dotted name of the builder module, imported on first use: builder modules
    import onnx to write graphs, which listing, resolving or running installed models never needs.
    ``read_weights(path, max_mb)`` turns the upstream weight file into named numpy arrays,
    refusing files whose tensors add up to more than ``max_mb`` MiB.
    """

    name: str
    builder: str
    read_weights: Callable[[Path, int], dict[str, np.ndarray]] = read_state_dict

    def module(self) -> BuilderModule:
        """The builder module (imported now if it was not yet)."""
        # deferred: the builder imports onnx, loaded only when a model is installed
        return cast(BuilderModule, importlib.import_module(self.builder))

    def check_input_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` if this architecture can be built at that size; else InputError."""
        return self.module().check_input_size(height, width)

    def build(self, weights: Path, card: ModelCard, height: int, width: int, max_mb: int) -> onnx.ModelProto:
        """Read the upstream weight file ``weights`` (at most ``max_mb`` MiB of tensors) and write the
        network for a ``height`` x ``width`` input."""
        return self.module().build_from_card(self.read_weights(weights, max_mb), card, height, width)


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("espnetv2", "analytics.models.espnetv2"),
    )
}
"""Every architecture UrbanLens can build, by the name a model card's ``architecture`` field uses."""


def get_architecture(card: ModelCard) -> Architecture:
    """The registered architecture that builds ``card``'s model.

    >>> from analytics.models.zoo import builtin_cards
    >>> get_architecture(builtin_cards()["espnetv2-s2"]).name
    'espnetv2'
    >>> import dataclasses
    >>> get_architecture(dataclasses.replace(builtin_cards()["espnetv2-s2"], architecture="unet"))
    Traceback (most recent call last):
    ...
    analytics.errors.ModelError: model 'espnetv2-s2': UrbanLens cannot build architecture 'unet'; expected one of 'espnetv2'
    """
    arch = ARCHITECTURES.get(card.architecture or "")
    if arch is None:
        known = ", ".join(repr(name) for name in ARCHITECTURES)
        raise ModelError(f"model {card.name!r}: UrbanLens cannot build architecture {card.architecture!r}; expected one of {known}")
    return arch
