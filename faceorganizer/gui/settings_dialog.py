"""Settings: where the models run, what counts as a face, how faces become people, whether
names are written to sidecar files after every decision, and which library is open. App
settings are kept with QSettings, people settings in the library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people.settings import PeopleSettings
from faceorganizer.reembed import recorded_weights

from .context import AppContext


@dataclass(frozen=True)
class Chosen:
    device: str
    min_face_size: int
    people: PeopleSettings
    library: str
    weights: str | None  # a weights file, or None for the built-in weights
    write_names: bool = False  # rewrite the sidecars a naming decision concerns, after it
    detector: str = "retinaface"


def _spin(value: float, low: float, high: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setValue(value)
    return box


class SettingsDialog(QDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._people = context.people_settings()
        self._space = context.library_space()
        people = self._people.in_space(self._space)  # as the user sees them
        layout = QVBoxLayout(self)

        scanning = QGroupBox("Finding faces")
        form = QFormLayout(scanning)
        self.device = QComboBox()
        for value, label in [("auto", "Automatic (GPU if there is one)"), ("cpu", "CPU"),
                             ("cuda", "NVIDIA GPU (CUDA)"), ("mps", "Apple GPU (MPS)")]:
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(context.device)))
        form.addRow("Run the models on", self.device)
        self.detector = QComboBox()
        for value, label in [("retinaface", "RetinaFace (3x faster; the default)"),
                             ("mtcnn", "MTCNN (slower; better on very small faces)")]:
            self.detector.addItem(label, value)
        self.detector.setCurrentIndex(max(0, self.detector.findData(context.scan_settings().detector)))
        self.detector.setToolTip("Changing it finds the faces of every photo again at the next scan; "
                                 "names and decisions stay with the faces.")
        form.addRow("Face detector", self.detector)
        self.min_face = QSpinBox()
        self.min_face.setRange(12, 1000)
        self.min_face.setSuffix(" px")
        self.min_face.setValue(context.scan_settings().min_face_size)
        form.addRow("Smallest face to find", self.min_face)
        layout.addWidget(scanning)

        grouping = QGroupBox("Grouping faces into people (named and confirmed people never change)")
        form = QFormLayout(grouping)
        self.cluster = _spin(people.cluster_threshold, 0.2, 1.5, 0.05)
        self.cluster.setToolTip("Lower: fewer mistakes, more people split in two. Higher: the reverse.")
        form.addRow("Grouping distance", self.cluster)
        self.merge = _spin(people.merge_threshold, 0.0, 2.0, 0.05)
        form.addRow("Merge clearly separate groups up to", self.merge)
        self.match = _spin(people.match_threshold, 0.2, 2.0, 0.05)
        form.addRow("Suggest a face for a named person within", self.match)
        self.min_faces = QSpinBox()
        self.min_faces.setRange(1, 100)
        self.min_faces.setValue(people.min_faces)
        form.addRow("Fewest faces for a person", self.min_faces)
        self.gate_size = QSpinBox()
        self.gate_size.setRange(0, 2000)
        self.gate_size.setSuffix(" px")
        self.gate_size.setValue(people.gate_min_size)
        form.addRow("Smallest face used for grouping", self.gate_size)
        self.gate_probability = _spin(people.gate_min_probability, 0.0, 1.0, 0.01)
        form.addRow("Least detector certainty for grouping", self.gate_probability)
        layout.addWidget(grouping)

        recognition = QGroupBox("Face recognition weights (switching re-embeds every face; "
                                "names and confirmations are kept)")
        row = QHBoxLayout(recognition)
        recorded = recorded_weights(context.library)
        self._weights: str | None = recorded.path if recorded else None
        self.weights_label = QLineEdit()
        self.weights_label.setReadOnly(True)
        row.addWidget(self.weights_label, 1)
        choose = QPushButton("Choose file...")
        choose.setToolTip("A FaceNet state dict, for example one written by `faceorganizer train` "
                          "or `faceorganizer personalize`")
        choose.clicked.connect(self._choose_weights)
        row.addWidget(choose)
        builtin = QPushButton("Built-in")
        builtin.clicked.connect(lambda: self._set_weights(None))
        row.addWidget(builtin)
        self._set_weights(self._weights)
        layout.addWidget(recognition)

        files = QGroupBox("Names in files")
        column = QVBoxLayout(files)
        self.write_names = QCheckBox("Write names to sidecar files after every naming decision")
        self.write_names.setToolTip(
            "After you name, rename, move, confirm or reject faces, merge or hide people (or undo "
            "that), the sidecars (PHOTO.xmp) of the photos concerned are rewritten in the background, "
            "so other apps see the names at once. File > Write Names to Files does it for every photo.")
        self.write_names.setChecked(context.write_names_after_decisions)
        column.addWidget(self.write_names)
        layout.addWidget(files)

        storage = QGroupBox("Library")
        row = QHBoxLayout(storage)
        self.library = QLineEdit(context.library.name)
        self.library.setPlaceholderText("a file, or postgresql://USER@HOST/DATABASE")
        self.library.setToolTip(
            "A library file on this computer, or a library shared by several computers on a "
            "PostgreSQL server: postgresql://USER@HOST[:PORT]/DATABASE. The password is never kept "
            "here: put it in ~/.pgpass (or PGPASSWORD).")
        row.addWidget(self.library, 1)
        browse = QPushButton("Choose...")
        browse.clicked.connect(self._choose_library)
        row.addWidget(browse)
        layout.addWidget(storage)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _set_weights(self, path: str | None) -> None:
        self._weights = path
        self.weights_label.setText(path or "Built-in: CASIA-WebFace (davidsandberg 20180408-102900)")

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "FaceNet weights", self._weights or str(Path.home()),
                                              "PyTorch weights (*.pt *.pth);;All files (*)")
        if path:
            self._set_weights(path)

    def _choose_library(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Library file", self.library.text(), "faceorganizer library (*.sqlite)",
            options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.library.setText(path)

    def chosen(self) -> Chosen:
        """What the user chose; the people settings in the built-in distances (the boxes show
        them in the library's, those of its weights)."""
        def changed(box: QDoubleSpinBox, shown: float) -> float | None:
            """The box's value if the user changed it (thresholds of fine-tuned weights have more
            decimals than the box: a box left alone changes nothing, no drift on OK)."""
            return None if abs(box.value() - round(shown, box.decimals())) < 1e-9 else round(box.value(), 3)

        shown = self._people.in_space(self._space)
        people = self._people.with_shown(
            self._space,
            cluster_threshold=changed(self.cluster, shown.cluster_threshold),
            merge_threshold=changed(self.merge, shown.merge_threshold),
            match_threshold=changed(self.match, shown.match_threshold), min_faces=self.min_faces.value(),
            gate_min_size=self.gate_size.value(),
            gate_min_probability=changed(self.gate_probability, shown.gate_min_probability))
        return Chosen(self.device.currentData(), self.min_face.value(), people, self.library.text(),
                      self._weights, self.write_names.isChecked(), self.detector.currentData())
