"""What the plotting demos share: the quick switch, the output path, matplotlib, compact PNGs."""
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.environ.get("DESCENT_DEMO_QUICK", "0") not in ("", "0")  # tests: a few steps, same PNGs


def require(module, package, script):
    """Imports `module` or exits naming the package that provides it."""
    try:
        return __import__(module)
    except ImportError:
        sys.exit(f"{script} needs {package}: run scripts/ensure-deps.sh --demo "
                 f"(or python3 -m pip install {package})")


def default_out(name):
    """build/demo/<name> in the repository."""
    return os.path.join(ROOT, "build", "demo", name)


def pyplot(script):
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    require("matplotlib", "matplotlib", script)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_png(figure, path, dpi=100):
    """Saves `figure` as a 256-colour PNG (line art loses nothing visible and shrinks ~3x)."""
    from PIL import Image  # Pillow comes with matplotlib

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    palette.save(path, optimize=True)
