# Colab: clone and install this project (set KAMIM_REPO to its git URL first) and check the accelerator stack.
# Does nothing outside Colab.
import importlib.util, os, subprocess, sys
if "google.colab" in sys.modules:
    if importlib.util.find_spec("kamim_lib") is None:
        if not os.environ.get("KAMIM_REPO"):
            raise RuntimeError("In Colab, first run  %env KAMIM_REPO=https://github.com/<owner>/<repo>  "
                               "(the git URL of this project), then re-run this cell.")
        subprocess.run(["git", "clone", "-q", "--depth", "1", os.environ["KAMIM_REPO"], "/content/kamim"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/kamim[notebooks]"], check=True)
        sys.path.insert(0, "/content/kamim")
    from kamim_paper.runner.colab import check_colab_runtime
    check_colab_runtime()
