"""kamim_lib.progress: the bar fits where the code runs."""
import sys

from kamim_lib import progress


def test_terminal_gets_a_text_bar(monkeypatch):
    monkeypatch.setattr(progress, "_in_jupyter_kernel", lambda: False)
    assert progress.bar_kind() == "text"
    bar = progress.progress_bar(total=3, file=sys.stderr)
    bar.update(3)
    bar.close()


def test_kernel_without_widgets_gets_no_bar_and_plain_lines(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_in_jupyter_kernel", lambda: True)
    monkeypatch.setattr(progress, "_has_widgets", lambda: False)
    assert progress.bar_kind() == "none"
    bar = progress.progress_bar(total=3)
    assert bar.disable
    bar.close()
    progress.progress_write("epoch 1/1 done")
    assert capsys.readouterr().out == "epoch 1/1 done\n"


def test_kernel_with_widgets_gets_the_widget_bar(monkeypatch):
    monkeypatch.setattr(progress, "_in_jupyter_kernel", lambda: True)
    monkeypatch.setattr(progress, "_has_widgets", lambda: True)
    assert progress.bar_kind() == "widget"
