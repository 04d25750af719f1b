"""rtstyle: real-time neural style transfer for images, video files and webcams."""

__version__ = "0.1.0"

__all__ = ["Stylizer", "__version__"]


def __getattr__(name):  # lazy, so `import rtstyle` stays light for the CLI's start-up
    if name == "Stylizer":
        from .stylizer import Stylizer

        return Stylizer
    raise AttributeError(name)
