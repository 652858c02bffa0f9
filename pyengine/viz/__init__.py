"""pyengine.viz — looking inside a network: filters, activations, saliency, Grad-CAM, occlusion
sensitivity, deep dream and the layer graph, as matplotlib figures and PNG files.

Every ``plot_*`` function returns a matplotlib Figure and writes a PNG when given ``path``; the
maps themselves (``activations``, ``saliency``, ``grad_cam``, ``occlusion_sensitivity``,
``deep_dream``, ``trace_graph``) are plain NumPy arrays and data, for your own plots. Layers are
named as in ``model.named_modules()`` or by kind and position ("conv2", "relu1", "fc1"); see
``layer_aliases(model)``. Built on forward hooks and ``Tensor.retain_grad``; needs matplotlib
(``pip install "pyengine[plot]"``). ``pyengine visualize`` writes them from the command line.
"""
from ._common import display_name, find_layer, layer_aliases
from .activations import activations, plot_activations, strongest_channel
from .attribution import grad_cam, occlusion_sensitivity, plot_heatmap, saliency
from .dream import deep_dream, plot_deep_dream
from .filters import plot_filters
from .graph import plot_graph, trace_graph

__all__ = ["plot_filters", "activations", "plot_activations", "strongest_channel", "saliency", "grad_cam",
           "occlusion_sensitivity", "plot_heatmap", "deep_dream", "plot_deep_dream", "plot_graph", "trace_graph",
           "find_layer", "layer_aliases", "display_name"]
