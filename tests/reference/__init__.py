"""Reference implementations smlp is checked against, none of them smlp's own code.

- ``sklearn_container``: the scikit-learn container's training (the real
  ``sagemaker-training`` toolkit from PyPI) and serving (the real ``sagemaker-inference``
  transformer, driven as the container drives it);
- ``xgboost_container``: the built-in XGBoost container's algorithm mode, mirrored in plain
  xgboost from aws/sagemaker-xgboost-container;
- ``knn``: an independent brute-force k-NN that answers like ``knn:1`` (its artifact is opaque
  to smlp, so only the contract is mirrored);
- ``batch_transform``: the platform side of Batch Transform (line splitting, mini-batches,
  ``DataProcessing`` filters and join, ``.out`` assembly) from the AWS developer guide.
"""
