"""The python_function loader of ONNX models packaged with one input per column (models with text columns).

MLflow's own ONNX loader feeds each DataFrame column's `.values`, which for a pandas string column is
not a NumPy array ONNX Runtime accepts; this loader converts every column to its input's array type
first, then answers as MLflow's does (a DataFrame with a column per output). `lapis model package`
ships it in the model's `code/` folder and names it as the model's python_function loader.
"""
import numpy as np
import pandas as pd
from mlflow.onnx import _load_pyfunc as _load_onnx

ARRAY_TYPES = {'tensor(string)': object, 'tensor(double)': np.float64, 'tensor(float)': np.float32,
               'tensor(int64)': np.int64, 'tensor(int32)': np.int32}


class ColumnsModel:
    def __init__(self, onnx_model):
        self._onnx = onnx_model
        self._types = {i.name: ARRAY_TYPES[i.type] for i in onnx_model.rt.get_inputs()}

    def predict(self, data, params=None):
        if not isinstance(data, pd.DataFrame):
            return self._onnx.predict(data, params)
        feed = {name: data[name].to_numpy(dtype=kind) for name, kind in self._types.items()}
        outputs = self._onnx.rt.run(self._onnx.output_names, feed)
        return pd.DataFrame({name: np.asarray(o).reshape(-1) for name, o in zip(self._onnx.output_names, outputs)})


def _load_pyfunc(path):
    return ColumnsModel(_load_onnx(path))
