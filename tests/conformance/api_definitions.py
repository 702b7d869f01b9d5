"""Which published model each operation synlink uses is checked against: the operation
table (method, URL shape, api-version, request model, answer model per status) and the
models that no installable package covers at synlink's api-versions, written from the
published definitions in Azure/azure-rest-api-specs (each cites its file).

Sources, by api-version (synlink's constants are in src/cloud/resources/*.rs):

- computes 2023-04-01: azure-mgmt-machinelearningservices 2.0.0b2 (generated for
  2023-04-01 from machinelearningservices/.../stable/2023-04-01/machineLearningServices.json).
- Synapse RBAC data plane 2020-12-01: azure-synapse-accesscontrol 0.7.0 (2020-12-01).
- permissions 2022-04-01: azure-mgmt-authorization 4.0.0, package v2022_04_01.
- AML workspaces 2024-10-01: no package is generated for 2024-10-01 (azure-mgmt-
  machinelearningservices 2.0.0b2 is 2023-04-01, azure-ai-ml vendors 2025-12-01): the
  2023-04-01 package model plus the properties 2024-10-01 adds, from
  machinelearningservices/.../stable/2024-10-01/workspaceRP.json.
- linked services 2020-09-01-preview, Synapse workspaces and pools 2021-06-01 (the
  packages are 2021-03-01 and 2021-06-01-preview), resource groups 2021-04-01 and the ARM
  error and async-operation shapes: written below from their definition files.

Closed enums (modelAsString: false) are not visible in the generated Python (every enum is
generated extensible), so the closed ones synlink's traffic touches are listed here with
their definition file.
"""

import re

from api_models import ANY, BOOLEAN, INTEGER, STRING, Enum, Model, MsrestModels, P, array, mapping

import azure.mgmt.authorization.v2022_04_01.models as authorization_models
import azure.mgmt.machinelearningservices.models as ml_models
import azure.synapse.accesscontrol.models as rbac_models

COMMON_V2 = "specification/common-types/resource-management/v2/types.json"
COMMON_V3 = "specification/common-types/resource-management/v3/types.json"
RPC_ASYNC = "Azure/azure-resource-manager-rpc:v1.0/async-api-reference.md"
RG_SPEC = "specification/resources/resource-manager/Microsoft.Resources/stable/2021-04-01/resources.json"
ML_2023 = "azure-mgmt-machinelearningservices 2.0.0b2 (specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2023-04-01/machineLearningServices.json)"
ML_WS_2024 = "specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2024-10-01/workspaceRP.json"
ML_LINK = "specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/preview/2020-09-01-preview/machineLearningServices.json"
SYN_WS = "specification/synapse/resource-manager/Microsoft.Synapse/stable/2021-06-01/workspace.json"
SYN_POOL = "specification/synapse/resource-manager/Microsoft.Synapse/stable/2021-06-01/bigDataPool.json"
SYN_PEC = "specification/synapse/resource-manager/Microsoft.Synapse/common/v1/privateEndpointConnection.json"
RBAC = "azure-synapse-accesscontrol 0.7.0 (specification/synapse/data-plane/Microsoft.Synapse/stable/2020-12-01/{roleAssignments,roleDefinitions,checkAccessSynapseRbac}.json)"
AUTHZ = "azure-mgmt-authorization 4.0.0 v2022_04_01 (specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-*.json)"

# common-types v3 types.json, Sku.tier: enum Free|Basic|Standard|Premium, x-ms-enum SkuTier
# modelAsString false (the 2023-04-01 and 2024-10-01 ML definitions use this Sku).
SKU_TIER = Enum("SkuTier", ["Free", "Basic", "Standard", "Premium"], closed=True, source=COMMON_V3)

ML = MsrestModels(ml_models, ML_2023, closed_enums={("Sku", "tier"): SKU_TIER})
RBAC_MODELS = MsrestModels(rbac_models, RBAC)
AUTHZ_MODELS = MsrestModels(authorization_models, AUTHZ)

# --- ARM common shapes ------------------------------------------------------------------

# common-types v2 types.json: ErrorResponse { error: ErrorDetail }, every field readOnly.
ERROR_ADDITIONAL_INFO = Model("ErrorAdditionalInfo", COMMON_V2, {"type": P(STRING, ro=True), "info": P(ANY, ro=True)})
ERROR_DETAIL = Model("ErrorDetail", COMMON_V2)
ERROR_DETAIL.props.update(
    {
        "code": P(STRING, ro=True),
        "message": P(STRING, ro=True),
        "target": P(STRING, ro=True),
        "details": P(array(ERROR_DETAIL), ro=True),
        "additionalInfo": P(array(ERROR_ADDITIONAL_INFO), ro=True),
    }
)
ERROR_RESPONSE = Model("ErrorResponse", COMMON_V2, {"error": P(ERROR_DETAIL)})

# The ARM RPC's Azure-AsyncOperation status resource: only `status` is required; `error`
# carries the ARM error detail.
ASYNC_STATUS = Model(
    "AsyncOperationResult",
    RPC_ASYNC,
    {
        "id": P(STRING),
        "name": P(STRING),
        "resourceId": P(STRING),
        "status": P(STRING, req=True),
        "startTime": P(STRING),
        "endTime": P(STRING),
        "percentComplete": P(INTEGER),
        "properties": P(ANY),
        "error": P(ERROR_DETAIL),
    },
)

SYSTEM_DATA = Model(
    "systemData",
    COMMON_V2,
    {
        "createdBy": P(STRING),
        "createdByType": P(STRING),
        "createdAt": P(STRING),
        "lastModifiedBy": P(STRING),
        "lastModifiedByType": P(STRING),
        "lastModifiedAt": P(STRING),
    },
)

# common-types v2 types.json TrackedResource: id, name, type readOnly; location required
# (x-ms-mutability create+read); tags a map of strings.
TRACKED_V2 = {
    "id": P(STRING, ro=True),
    "name": P(STRING, ro=True),
    "type": P(STRING, ro=True),
    "tags": P(mapping(STRING)),
    "location": P(STRING, req=True),
}

# --- resource groups 2021-04-01 (RG_SPEC: ResourceGroup, ResourceGroupProperties) -----

RESOURCE_GROUP = Model(
    "ResourceGroup",
    RG_SPEC,
    {
        "id": P(STRING, ro=True),
        "name": P(STRING, ro=True),
        "type": P(STRING, ro=True),
        "properties": P(Model("ResourceGroupProperties", RG_SPEC, {"provisioningState": P(STRING, ro=True)})),
        "location": P(STRING, req=True),
        "managedBy": P(STRING),
        "tags": P(mapping(STRING)),
    },
)
RESOURCE_GROUP_LIST = Model(
    "ResourceGroupListResult", RG_SPEC, {"value": P(array(RESOURCE_GROUP)), "nextLink": P(STRING, ro=True)}
)

# --- Synapse workspaces 2021-06-01 (SYN_WS) ---------------------------------------------

SYN_IDENTITY = Model(
    "ManagedIdentity",
    SYN_WS,
    {
        "principalId": P(STRING, ro=True),
        "tenantId": P(STRING, ro=True),
        # x-ms-enum ResourceIdentityType, modelAsString: false
        "type": P(Enum("ResourceIdentityType", ["None", "SystemAssigned", "SystemAssigned,UserAssigned"], True, SYN_WS)),
        "userAssignedIdentities": P(
            mapping(
                Model(
                    "UserAssignedManagedIdentity",
                    SYN_WS,
                    {"clientId": P(STRING, ro=True, null=True), "principalId": P(STRING, ro=True, null=True)},
                )
            )
        ),
    },
)
SYN_DATA_LAKE = Model(
    "DataLakeStorageAccountDetails",
    SYN_WS,
    {
        "accountUrl": P(STRING),
        "filesystem": P(STRING),
        "resourceId": P(STRING),
        "createManagedPrivateEndpoint": P(BOOLEAN),
    },
)
SYN_ENCRYPTION = Model(
    "EncryptionDetails",
    SYN_WS,
    {
        "doubleEncryptionEnabled": P(BOOLEAN, ro=True),
        "cmk": P(
            Model(
                "CustomerManagedKeyDetails",
                SYN_WS,
                {
                    "status": P(STRING, ro=True),
                    "key": P(Model("WorkspaceKeyDetails", SYN_WS, {"name": P(STRING), "keyVaultUrl": P(STRING)})),
                    "kekIdentity": P(
                        Model(
                            "KekIdentityProperties",
                            SYN_WS,
                            {"userAssignedIdentity": P(STRING), "useSystemAssignedIdentity": P(ANY)},
                        )
                    ),
                },
            )
        ),
    },
)
SYN_MVN_SETTINGS = Model(
    "ManagedVirtualNetworkSettings",
    SYN_WS,
    {
        "preventDataExfiltration": P(BOOLEAN),
        "linkedAccessCheckOnTargetResource": P(BOOLEAN),
        "allowedAadTenantIdsForLinking": P(array(STRING)),
    },
)
SYN_REPO = Model(
    "WorkspaceRepositoryConfiguration",
    SYN_WS,
    {
        k: P(STRING)
        for k in [
            "type",
            "hostName",
            "accountName",
            "projectName",
            "repositoryName",
            "collaborationBranch",
            "rootFolder",
            "lastCommitId",
            "tenantId",
        ]
    },
)
SYN_PURVIEW = Model("PurviewConfiguration", SYN_WS, {"purviewResourceId": P(STRING)})
# Open enum (modelAsString: true): any string is allowed.
SYN_PNA = Enum("WorkspacePublicNetworkAccess", ["Enabled", "Disabled"], False, SYN_WS)
SYN_WS_PROPERTIES = Model(
    "WorkspaceProperties",
    SYN_WS,
    {
        "defaultDataLakeStorage": P(SYN_DATA_LAKE),
        "sqlAdministratorLoginPassword": P(STRING),
        "managedResourceGroupName": P(STRING),
        "provisioningState": P(STRING, ro=True),
        "sqlAdministratorLogin": P(STRING),
        "virtualNetworkProfile": P(Model("VirtualNetworkProfile", SYN_WS, {"computeSubnetId": P(STRING)})),
        "connectivityEndpoints": P(mapping(STRING)),
        "managedVirtualNetwork": P(STRING),
        "privateEndpointConnections": P(array(Model("PrivateEndpointConnection", SYN_PEC, additional=ANY))),
        "encryption": P(SYN_ENCRYPTION),
        "workspaceUID": P(STRING, ro=True),
        "extraProperties": P(mapping(ANY), ro=True),
        "managedVirtualNetworkSettings": P(SYN_MVN_SETTINGS),
        "workspaceRepositoryConfiguration": P(SYN_REPO),
        "purviewConfiguration": P(SYN_PURVIEW),
        "adlaResourceId": P(STRING, ro=True),
        "publicNetworkAccess": P(SYN_PNA),
        "cspWorkspaceAdminProperties": P(
            Model("CspWorkspaceAdminProperties", SYN_WS, {"initialWorkspaceAdminObjectId": P(STRING)})
        ),
        "settings": P(mapping(ANY), ro=True),
        "azureADOnlyAuthentication": P(BOOLEAN),
        "trustedServiceBypassEnabled": P(BOOLEAN),
    },
)
SYN_WORKSPACE = Model(
    "Workspace",
    SYN_WS,
    dict(TRACKED_V2, properties=P(SYN_WS_PROPERTIES), identity=P(SYN_IDENTITY)),
)
SYN_WORKSPACE_PATCH = Model(
    "WorkspacePatchInfo",
    SYN_WS,
    {
        "tags": P(mapping(STRING)),
        "identity": P(SYN_IDENTITY),
        "properties": P(
            Model(
                "WorkspacePatchProperties",
                SYN_WS,
                {
                    "sqlAdministratorLoginPassword": P(STRING),
                    "managedVirtualNetworkSettings": P(SYN_MVN_SETTINGS),
                    "workspaceRepositoryConfiguration": P(SYN_REPO),
                    "purviewConfiguration": P(SYN_PURVIEW),
                    "provisioningState": P(STRING, ro=True),
                    "encryption": P(SYN_ENCRYPTION),
                    "publicNetworkAccess": P(SYN_PNA),
                },
            )
        ),
    },
)
SYN_WORKSPACE_LIST = Model(
    "WorkspaceInfoListResult", SYN_WS, {"nextLink": P(STRING), "value": P(array(SYN_WORKSPACE))}
)

# --- Synapse Spark pools 2021-06-01 (SYN_POOL) -------------------------------------------

SYN_POOL_PROPERTIES = Model(
    "BigDataPoolResourceProperties",
    SYN_POOL,
    {
        "provisioningState": P(STRING),
        "autoScale": P(
            Model(
                "AutoScaleProperties",
                SYN_POOL,
                {"minNodeCount": P(INTEGER), "enabled": P(BOOLEAN), "maxNodeCount": P(INTEGER)},
            )
        ),
        "creationDate": P(STRING, ro=True),
        "autoPause": P(
            Model("AutoPauseProperties", SYN_POOL, {"delayInMinutes": P(INTEGER), "enabled": P(BOOLEAN)})
        ),
        "isComputeIsolationEnabled": P(BOOLEAN),
        # A later revision of this 2021-06-01 file adds isAutotuneEnabled (and the service
        # answers it); the newest revision is the one to judge by (issue 15).
        "isAutotuneEnabled": P(BOOLEAN),
        "sessionLevelPackagesEnabled": P(BOOLEAN),
        "cacheSize": P(INTEGER),
        "dynamicExecutorAllocation": P(
            Model(
                "DynamicExecutorAllocation",
                SYN_POOL,
                {"enabled": P(BOOLEAN), "minExecutors": P(INTEGER), "maxExecutors": P(INTEGER)},
            )
        ),
        "sparkEventsFolder": P(STRING),
        "nodeCount": P(INTEGER),
        "libraryRequirements": P(
            Model(
                "LibraryRequirements",
                SYN_POOL,
                {"time": P(STRING, ro=True), "content": P(STRING), "filename": P(STRING)},
            )
        ),
        "customLibraries": P(
            array(
                Model(
                    "LibraryInfo",
                    SYN_POOL,
                    {
                        "name": P(STRING),
                        "path": P(STRING),
                        "containerName": P(STRING),
                        "uploadedTimestamp": P(STRING, ro=True),
                        "type": P(STRING),
                        "provisioningStatus": P(STRING, ro=True),
                        "creatorId": P(STRING, ro=True),
                    },
                )
            )
        ),
        "sparkConfigProperties": P(
            Model(
                "SparkConfigProperties",
                SYN_POOL,
                {
                    "time": P(STRING, ro=True),
                    "content": P(STRING),
                    "filename": P(STRING),
                    "configurationType": P(Enum("ConfigurationType", ["File", "Artifact"], False, SYN_POOL)),
                },
            )
        ),
        "sparkVersion": P(STRING),
        "defaultSparkLogFolder": P(STRING),
        "nodeSize": P(
            Enum("NodeSize", ["None", "Small", "Medium", "Large", "XLarge", "XXLarge", "XXXLarge"], False, SYN_POOL)
        ),
        "nodeSizeFamily": P(
            Enum(
                "NodeSizeFamily",
                ["None", "MemoryOptimized", "HardwareAcceleratedFPGA", "HardwareAcceleratedGPU"],
                False,
                SYN_POOL,
            )
        ),
        "lastSucceededTimestamp": P(STRING, ro=True),
    },
)
SYN_POOL_INFO = Model("BigDataPoolResourceInfo", SYN_POOL, dict(TRACKED_V2, properties=P(SYN_POOL_PROPERTIES)))
SYN_POOL_PATCH = Model("BigDataPoolPatchInfo", SYN_POOL, {"tags": P(mapping(STRING))})
SYN_POOL_LIST = Model(
    "BigDataPoolResourceInfoListResult", SYN_POOL, {"nextLink": P(STRING), "value": P(array(SYN_POOL_INFO))}
)

# --- AML linked services 2020-09-01-preview (ML_LINK: LinkedServiceRequest,
# LinkedServiceResponse, LinkedServiceProps, LinkedServiceList, Identity) ---------------

ML_LINK_IDENTITY = Model(
    "Identity",
    ML_LINK,
    {
        "principalId": P(STRING, ro=True),
        "tenantId": P(STRING, ro=True),
        # x-ms-enum ResourceIdentityType, modelAsString: false
        "type": P(
            Enum(
                "ResourceIdentityType",
                ["SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned", "None"],
                True,
                ML_LINK,
            ),
            req=True,
        ),
        "userAssignedIdentities": P(
            mapping(
                Model(
                    "UserAssignedIdentity",
                    ML_LINK,
                    {"principalId": P(STRING, ro=True), "tenantId": P(STRING, ro=True), "clientId": P(STRING, ro=True)},
                )
            )
        ),
    },
)
ML_LINK_PROPS = Model(
    "LinkedServiceProps",
    ML_LINK,
    {
        "linkedServiceResourceId": P(STRING, req=True),
        # x-ms-enum LinkedServiceLinkType, one value, modelAsString: false
        "linkType": P(Enum("LinkedServiceLinkType", ["Synapse"], True, ML_LINK)),
        "createdTime": P(STRING),
        "modifiedTime": P(STRING),
    },
)
ML_LINK_REQUEST = Model(
    "LinkedServiceRequest",
    ML_LINK,
    {"name": P(STRING), "location": P(STRING), "identity": P(ML_LINK_IDENTITY), "properties": P(ML_LINK_PROPS)},
)
ML_LINK_RESPONSE = Model(
    "LinkedServiceResponse",
    ML_LINK,
    {
        "id": P(STRING, ro=True),
        "name": P(STRING, ro=True),
        "type": P(STRING, ro=True),
        "location": P(STRING),
        "identity": P(ML_LINK_IDENTITY),
        "properties": P(ML_LINK_PROPS),
    },
)
ML_LINK_LIST = Model("LinkedServiceList", ML_LINK, {"value": P(array(ML_LINK_RESPONSE))})

# --- AML workspaces 2024-10-01 ---------------------------------------------------------

_ws_2023 = ML.model("Workspace")
# Properties of WorkspaceProperties that 2024-10-01 defines beyond 2023-04-01 (ML_WS_2024).
_WS_2024_ADDED = {}
_UNUSED = {
    "allowRoleAssignmentOnRG": P(BOOLEAN),
    "enableDataIsolation": P(BOOLEAN),
    "enableServiceSideCMKEncryption": P(BOOLEAN),
    "hubResourceId": P(STRING),
    "associatedWorkspaces": P(array(STRING), ro=True),
    "managedNetwork": P(ANY),
    "featureStoreSettings": P(ANY),
    "serverlessComputeSettings": P(ANY),
    "workspaceHubConfig": P(ANY),
    "systemDatastoresAuthMode": P(STRING),
    "enableSoftwareBillOfMaterials": P(BOOLEAN),
    "softDeleteRetentionInDays": P(INTEGER),
}
ML_WS_PROPERTIES = _ws_2023.props["properties"].type.extended(
    "WorkspaceProperties", ML_WS_2024, _WS_2024_ADDED
)
ML_WORKSPACE = _ws_2023.extended(
    "Workspace",
    ML_WS_2024,
    {"properties": P(ML_WS_PROPERTIES), "kind": P(STRING)},
)
ML_WORKSPACE_UPDATE = ML.model("WorkspaceUpdateParameters")
ML_WORKSPACE_LIST = Model(
    "WorkspaceListResult", ML_WS_2024, {"value": P(array(ML_WORKSPACE)), "nextLink": P(STRING)}
)

# --- the operation table ---------------------------------------------------------------


class Operation:
    def __init__(self, name, method, pattern, api_version, source, request=None, responses=None, loader=None):
        self.name = name
        self.method = method
        self.pattern = re.compile(pattern + r"/?$", re.IGNORECASE)
        self.api_version = api_version
        self.source = source
        self.request = request
        self.responses = responses or {}
        self.loader = loader
        self.api_version_mismatch = False

    def response_for(self, status):
        if status >= 400:
            return self.responses.get("error", ERROR_RESPONSE)
        return self.responses.get(status, self.responses.get("ok"))

    def resolve_subtype(self, model, value):
        sub = model.subtypes.get(value)
        if isinstance(sub, str) and self.loader is not None:
            return self.loader.subtype(model, value)
        return sub if isinstance(sub, Model) else None

    def mismatched(self):
        copy = Operation.__new__(Operation)
        copy.__dict__.update(self.__dict__)
        copy.api_version_mismatch = True
        return copy


SUB = r"/subscriptions/[^/]+"
RG = SUB + r"/resourcegroups/[^/]+"
MLWS = RG + r"/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
SYNWS = RG + r"/providers/Microsoft\.Synapse/workspaces/[^/]+"
DATA = r"/_synapse/[^/]+"  # the emulator's host for a workspace's connectivityEndpoints.dev

RBAC_ERROR = {"error": RBAC_MODELS.model("ErrorContract")}

# The definition names the answer's field `AccessDecisions` (capital A) in
# specification/synapse/data-plane/Microsoft.Synapse/stable/2020-12-01/checkAccessSynapseRbac.json;
# azure-synapse-accesscontrol 0.7.0 was generated from an earlier revision that spelled it
# `accessDecisions` (and msrest reads keys case-insensitively). The definition is judged by.
CHECK_ACCESS_SPEC = "specification/synapse/data-plane/Microsoft.Synapse/stable/2020-12-01/checkAccessSynapseRbac.json"
CHECK_ACCESS_RESPONSE = Model(
    "CheckPrincipalAccessResponse",
    CHECK_ACCESS_SPEC,
    {"AccessDecisions": P(array(RBAC_MODELS.model("CheckAccessDecision")))},
)


def _crud(name, pattern, version, source, model, list_model, patch=None, loader=None, put_request=None):
    ops = [
        Operation(f"{name} createOrUpdate", "PUT", pattern + r"/[^/]+", version, source, put_request or model, {"ok": model}, loader),
        Operation(f"{name} get", "GET", pattern + r"/[^/]+", version, source, None, {"ok": model}, loader),
        Operation(f"{name} delete", "DELETE", pattern + r"/[^/]+", version, source, None, {"ok": ANY}, loader),
        Operation(f"{name} list", "GET", pattern, version, source, None, {"ok": list_model}, loader),
    ]
    if patch is not None:
        ops.append(Operation(f"{name} update", "PATCH", pattern + r"/[^/]+", version, source, patch, {"ok": model}, loader))
    return ops


OPERATIONS = (
    _crud("ResourceGroups", SUB + r"/resourcegroups", "2021-04-01", RG_SPEC, RESOURCE_GROUP, RESOURCE_GROUP_LIST)
    + [Operation("ResourceGroups checkExistence", "HEAD", RG, "2021-04-01", RG_SPEC)]
    + _crud(
        "Workspaces (AML)",
        RG + r"/providers/Microsoft\.MachineLearningServices/workspaces",
        "2024-10-01",
        ML_WS_2024,
        ML_WORKSPACE,
        ML_WORKSPACE_LIST,
        patch=ML_WORKSPACE_UPDATE,
        loader=ML,
    )
    + _crud(
        "LinkedServices",
        MLWS + r"/linkedServices",
        "2020-09-01-preview",
        ML_LINK,
        ML_LINK_RESPONSE,
        ML_LINK_LIST,
        put_request=ML_LINK_REQUEST,
    )
    + _crud(
        "Compute",
        MLWS + r"/computes",
        "2023-04-01",
        ML_2023,
        ML.model("ComputeResource"),
        ML.model("PaginatedComputeResourcesList"),
        loader=ML,
    )
    + _crud(
        "Workspaces (Synapse)",
        RG + r"/providers/Microsoft\.Synapse/workspaces",
        "2021-06-01",
        SYN_WS,
        SYN_WORKSPACE,
        SYN_WORKSPACE_LIST,
        patch=SYN_WORKSPACE_PATCH,
    )
    + _crud("BigDataPools", SYNWS + r"/bigDataPools", "2021-06-01", SYN_POOL, SYN_POOL_INFO, SYN_POOL_LIST, patch=SYN_POOL_PATCH)
    + [
        Operation(
            "Permissions listForResource",
            "GET",
            RG + r"/providers/.+/providers/Microsoft\.Authorization/permissions",
            "2022-04-01",
            AUTHZ,
            None,
            {"ok": AUTHZ_MODELS.model("PermissionGetResult")},
            AUTHZ_MODELS,
        ),
        Operation(
            "RoleAssignments create (Synapse)",
            "PUT",
            DATA + r"/roleAssignments/[^/]+",
            "2020-12-01",
            RBAC,
            RBAC_MODELS.model("RoleAssignmentRequest"),
            dict(RBAC_ERROR, ok=RBAC_MODELS.model("RoleAssignmentDetails")),
        ),
        Operation(
            "RoleAssignments get (Synapse)",
            "GET",
            DATA + r"/roleAssignments/[^/]+",
            "2020-12-01",
            RBAC,
            None,
            dict(RBAC_ERROR, ok=RBAC_MODELS.model("RoleAssignmentDetails")),
        ),
        Operation("RoleAssignments delete (Synapse)", "DELETE", DATA + r"/roleAssignments/[^/]+", "2020-12-01", RBAC, None, dict(RBAC_ERROR, ok=ANY)),
        Operation(
            "RoleAssignments list (Synapse)",
            "GET",
            DATA + r"/roleAssignments",
            "2020-12-01",
            RBAC,
            None,
            dict(RBAC_ERROR, ok=RBAC_MODELS.model("RoleAssignmentDetailsList")),
        ),
        Operation(
            "RoleDefinitions list (Synapse)",
            "GET",
            DATA + r"/roleDefinitions",
            "2020-12-01",
            RBAC,
            None,
            dict(RBAC_ERROR, ok=array(RBAC_MODELS.model("SynapseRoleDefinition"))),
        ),
        Operation(
            "RoleDefinitions get (Synapse)",
            "GET",
            DATA + r"/roleDefinitions/[^/]+",
            "2020-12-01",
            RBAC,
            None,
            dict(RBAC_ERROR, ok=RBAC_MODELS.model("SynapseRoleDefinition")),
        ),
        Operation(
            "checkAccessSynapseRbac (Synapse)",
            "POST",
            DATA + r"/checkAccessSynapseRbac",
            "2020-12-01",
            RBAC,
            RBAC_MODELS.model("CheckPrincipalAccessRequest"),
            dict(RBAC_ERROR, ok=CHECK_ACCESS_RESPONSE),
        ),
    ]
)

# Long-running-operation URLs come from the Azure-AsyncOperation and Location headers:
# the status resource is the RPC's shape; a result is the resource itself.
STATUS_PATTERN = re.compile(r"^(?P<resource>.+)/operationStatus(es)?/[^/]+/?$", re.IGNORECASE)
RESULT_PATTERN = re.compile(r"^(?P<resource>.+)/operationResults/[^/]+/?$", re.IGNORECASE)

# Token and test-control endpoints: protocols without an OpenAPI definition (the App
# Service managed-identity protocol, Entra's token endpoint, the emulator's controls).
SKIPPED = re.compile(r"^/(_identity|_emulator|metadata)(/|$)|/oauth2/|/\.well-known/", re.IGNORECASE)


class Routes:
    def __init__(self, operations):
        self.operations = operations

    def skipped(self, base):
        return bool(SKIPPED.search(base))

    def match(self, method, base, api_version):
        status = STATUS_PATTERN.match(base)
        if status and method == "GET":
            owner = self.match("GET", status.group("resource"), api_version)
            if owner is not None:
                return Operation(
                    "operation status", "GET", ".*", owner.api_version, RPC_ASYNC, None, {"ok": ASYNC_STATUS}
                )
        result = RESULT_PATTERN.match(base)
        if result and method == "GET":
            owner = self.match("GET", result.group("resource"), api_version)
            if owner is not None:
                return Operation(
                    f"{owner.name} (operation result)",
                    "GET",
                    ".*",
                    owner.api_version,
                    owner.source,
                    None,
                    owner.responses,
                    owner.loader,
                )
        shaped = [op for op in self.operations if op.method == method and op.pattern.match(base)]
        if not shaped:
            return None
        for op in shaped:
            if api_version is not None and op.api_version == api_version:
                return op
        return shaped[0].mismatched()

    def unknown_operation(self):
        return Operation("(no operation)", "", "", "-", "(none of the definitions checked)")


ROUTES = Routes(OPERATIONS)
