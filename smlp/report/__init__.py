"""``smlp report``: one self-contained HTML page showing why a model wins.

One module per concern: ``uncertainty`` (bootstrap intervals, also used by ``smlp compare``),
``inputs`` (what the report reads, through the store, checked against the manifest),
``importance`` (permutation importance and XGBoost's SHAP values), ``profile`` (the data),
``tuning`` (the searches), ``figures`` and ``classification`` (matplotlib, stable PNG bytes),
``summary`` (the run), ``html`` (the page) and ``build`` (the stage).
"""
