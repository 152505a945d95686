# Setup. In Colab: fetch this project at the release of these notebooks and install it without replacing the
# runtime's torch / torchvision / torch_xla (safe to re-run). Everywhere: say which device `device="auto"` uses.
# Colab options, set first with %env: KAMIM_REPO (git URL of this project; needed once), KAMIM_REF (branch, tag
# or commit to check out; default the release tag below), KAMIM_DIR (default /content/kamim). docs/colab.md.
import os, subprocess, sys
if "google.colab" in sys.modules:
    _dir, _ref = os.environ.get("KAMIM_DIR", "/content/kamim"), os.environ.get("KAMIM_REF", "v0.1.0")
    _git = lambda *args: subprocess.run(["git", "-C", _dir, *args], check=True)
    if not os.path.isdir(os.path.join(_dir, ".git")):
        if not os.environ.get("KAMIM_REPO"):
            raise RuntimeError("First run  %env KAMIM_REPO=https://github.com/<owner>/<repo>  (this project's git "
                               "URL), then re-run this cell.")
        subprocess.run(["git", "clone", "-q", "--no-checkout", os.environ["KAMIM_REPO"], _dir], check=True)
    elif os.environ.get("KAMIM_REPO"):
        _git("remote", "set-url", "origin", os.environ["KAMIM_REPO"])
    if subprocess.run(["git", "-C", _dir, "fetch", "-q", "--tags", "origin", _ref]).returncode != 0:
        raise RuntimeError(f"{_ref!r} is not in the repository: these notebooks are not from a release, or the "
                           "tag is not pushed. Set  %env KAMIM_REF=<branch or commit>  (the part after /blob/ in "
                           "this notebook's Colab address), then re-run this cell.")
    _git("-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "FETCH_HEAD")
    sys.path.insert(0, _dir)
    from kamim_paper.runner.colab import install_keeping_runtime
    install_keeping_runtime(_dir)
from kamim_paper.runner.colab import describe_runtime
print(describe_runtime())
