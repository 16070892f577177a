"""Where SageMaker's own algorithm images live, so the execution role can pull only those.

AWS publishes them from one registry account per region and family. The accounts are copied
from the SageMaker Python SDK (``src/sagemaker/image_uri_config/{xgboost,sklearn,knn}.json``);
commercial regions that have all three families are listed.
"""

from __future__ import annotations

# sagemaker-xgboost and sagemaker-scikit-learn share the framework account of each region.
FRAMEWORK_REPOSITORIES = ("sagemaker-xgboost", "sagemaker-scikit-learn")
# The first-party algorithms (knn among them) come from a different account.
ALGORITHM_REPOSITORIES = ("knn",)

FRAMEWORK_ACCOUNTS: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ca-central-1": "341280168497",
    "eu-central-1": "492215442770",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}

ALGORITHM_ACCOUNTS: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "351501993468",
    "ap-northeast-2": "835164637446",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "991648021394",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "712309505854",
    "ca-central-1": "469771592824",
    "eu-central-1": "664544806723",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-west-1": "438346466558",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
}

REGIONS = tuple(sorted(FRAMEWORK_ACCOUNTS.keys() & ALGORITHM_ACCOUNTS.keys()))
