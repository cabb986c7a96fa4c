"""Write models/imagenet1k.labels: the 1000 ImageNet-1k class names, one per line in class-index order, as
torchvision ships them (torchvision.models._meta._IMAGENET_CATEGORIES; Debian's python3-torchvision carries it).

  python3 tools/imagenet_labels.py [OUT]        (default models/imagenet1k.labels)

Use with an ImageNet checkpoint that carries no labels: xformer-classify --labels models/imagenet1k.labels ...
"""
import os
import sys


def main():
    from torchvision.models._meta import _IMAGENET_CATEGORIES as names
    if len(names) != 1000 or len(set(names)) != 1000 or any("\n" in n or not n for n in names):
        sys.exit("torchvision's ImageNet categories are not 1000 distinct names")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "models", "imagenet1k.labels")
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(n + "\n" for n in names)
    print(f"wrote {out}: {len(names)} labels")


if __name__ == "__main__":
    main()
