"""Conformance of the synlink emulator with the official Azure SDKs for Python.

Usage: python conformance.py EMULATOR_URL

The emulator must run with --tls; REQUESTS_CA_BUNDLE (and SSL_CERT_FILE) name its CA
file, and IDENTITY_ENDPOINT / IDENTITY_HEADER point azure-identity's managed-identity
credential at {EMULATOR_URL}/_identity/msi (the bootstrap principal, Owner of every
subscription). Every step uses the SDKs' own requests, models and LRO pollers:

  azure-identity        ManagedIdentityCredential (App Service protocol) and
                        ClientSecretCredential (Entra client credentials)
  azure-mgmt-resource   create a resource group
  azure-mgmt-synapse    create a Synapse workspace and a Spark pool, wait for both LROs
  azure-synapse-accesscontrol
                        list role definitions, create and list a role assignment,
                        RoleAssignmentAlreadyExists on a duplicate
  azure-mgmt-machinelearningservices
                        create an AML workspace, attach the pool as SynapseSpark
                        compute (2023-04-01) and wait, then detach
  azure-ai-ml           MLClient on a custom cloud whose resource_manager is the
                        emulator: compute.begin_create_or_update(SynapseSparkCompute),
                        get, list (also after a failed attach), begin_delete(Detach)
  azureml-core          azureml_core_flow.py, in its own venv ({venv}/azureml-core):
                        Workspace, LinkedService, ComputeTarget.attach of a
                        SynapseCompute + wait_for_completion, compute_targets, detach

The azure-ai-ml and azureml-core steps each report `ok` or `FAILED` and go on where they
can, so that one run lists every failure; the run fails when any step failed.

Prints "conformance: ok" at the end; any failure raises.
"""

import os
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices import models as ml_models
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.synapse import SynapseManagementClient
from azure.mgmt.synapse import models as syn_models
from azure.synapse.accesscontrol import AccessControlClient

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0f0"
RG = "rg-conformance"
SYN = "syn-conformance"
POOL = "pool1"
AML = "mlw-conformance"
SPARK_ADMIN = "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1"
POLL = 0.05  # seconds between LRO polls (the emulator also sends retry-after-ms)


def step(text):
    print(f"- {text}", flush=True)


def checked(failures, name, fn):
    """Runs one SDK step; a failure is printed and counted, not raised."""
    try:
        result = fn()
        step(f"ok {name}")
        return result
    except Exception as e:  # noqa: BLE001 (every failure is reported, then counted)
        last = traceback.extract_tb(e.__traceback__)[-1]
        step(f"FAILED {name}: {type(e).__name__}: {str(e)[:600]} (at {last.filename}:{last.lineno})")
        failures.append(name)
        return None


def azure_ai_ml_flow(url, credential, pool_id):
    """azure-ai-ml as a user on a sovereign cloud would point it: cloud metadata whose
    resource_manager is the emulator; the SDK then asks for `{resource_manager}/.default`."""
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import SynapseSparkCompute

    failures = []
    metadata = {
        "azure_portal": url + "/",
        "resource_manager": url + "/",
        "active_directory": url + "/",
        "aml_resource_id": url + "/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": url + "/",
    }
    client = checked(
        failures,
        "azure-ai-ml: MLClient(cloud=custom metadata)",
        lambda: MLClient(credential, SUBSCRIPTION, RG, AML, cloud="SynlinkEmulator", cloud_metadata=metadata),
    )
    if client is None:
        return failures

    def attach():
        c = client.compute.begin_create_or_update(SynapseSparkCompute(name="spark2", resource_id=pool_id)).result()
        assert c.provisioning_state == "Succeeded", c.provisioning_state

    checked(failures, "azure-ai-ml: compute.begin_create_or_update(SynapseSparkCompute)", attach)

    def get():
        c = client.compute.get("spark2")
        assert c.type == "synapsespark", c.type
        assert c.resource_id.lower() == pool_id.lower(), c.resource_id

    checked(failures, "azure-ai-ml: compute.get", get)

    def bad_attach():
        missing = pool_id.rsplit("/", 1)[0] + "/nosuchpool"
        try:
            c = client.compute.begin_create_or_update(SynapseSparkCompute(name="sparkbad", resource_id=missing)).result()
        except ClientAuthenticationError:
            raise  # not the attach failing: the request never reached it
        except HttpResponseError:
            return  # the attach failed, as it must
        assert c.provisioning_state == "Failed", c.provisioning_state

    checked(failures, "azure-ai-ml: compute.begin_create_or_update of a pool that does not exist fails", bad_attach)

    def listed():
        names = sorted(c.name for c in client.compute.list())
        assert "spark2" in names and "sparkbad" in names, names

    checked(failures, "azure-ai-ml: compute.list (with a failed attach listed)", listed)
    for name in ["spark2", "sparkbad"]:
        checked(
            failures,
            f"azure-ai-ml: compute.begin_delete({name}, action=Detach)",
            lambda name=name: client.compute.begin_delete(name, action="Detach").result(),
        )
    return failures


def azureml_core_flow(url):
    """Runs azureml_core_flow.py with the python of the azureml-core venv."""
    python = os.path.join(sys.prefix, "azureml-core", "bin", "python")
    if not os.path.exists(python):
        step(f"FAILED azureml-core: no venv at {python} (bash .ci/conformance-venv.sh)")
        return ["azureml-core: venv missing"]
    with tempfile.TemporaryDirectory() as config_dir:
        # The emulator serves ARM's cloud metadata (`GET {URL}/metadata/endpoints`) with one
        # cloud, SynlinkEmulator: azureml-core loads clouds from ARM_CLOUD_METADATA_URL.
        cloud = "SynlinkEmulator"
        env = dict(
            os.environ,
            ARM_CLOUD_METADATA_URL=url + "/metadata/endpoints?api-version=2019-05-01",
            AZUREML_CURRENT_CLOUD=cloud,
            AZURE_CONFIG_DIR=config_dir,
            AZUREML_LOG_DEPRECATION_WARNING_ENABLED="false",
        )
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "azureml_core_flow.py")
        run = subprocess.run(
            [python, script, url, SUBSCRIPTION, RG, AML, RG, SYN, POOL],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    for line in run.stdout.splitlines():
        if line.startswith(("ok ", "FAILED ")):
            step(f"azureml-core: {line}")
    if run.returncode != 0:
        tail = run.stderr.strip().splitlines()[-5:]
        if tail:
            step("azureml-core stderr: " + " | ".join(tail))
        failed = [l for l in run.stdout.splitlines() if l.startswith("FAILED ")]
        return [f"azureml-core: {l[len('FAILED '):].split(':')[0]}" for l in failed] or [f"azureml-core: exit {run.returncode}"]
    return []


def main(url):
    credential = ManagedIdentityCredential()
    token = credential.get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2, "a JWT from the managed-identity endpoint"
    step("managed identity token")

    resources = ResourceManagementClient(credential, SUBSCRIPTION, base_url=url)
    group = resources.resource_groups.create_or_update(RG, {"location": "westeurope"})
    assert group.name == RG
    step("resource group")

    synapse = SynapseManagementClient(credential, SUBSCRIPTION, base_url=url)
    workspace = synapse.workspaces.begin_create_or_update(
        RG,
        SYN,
        syn_models.Workspace(
            location="westeurope",
            identity=syn_models.ManagedIdentity(type="SystemAssigned"),
            default_data_lake_storage=syn_models.DataLakeStorageAccountDetails(
                account_url="https://adls.dfs.core.windows.net", filesystem="fs"
            ),
            sql_administrator_login="sqladmin",
            sql_administrator_login_password="Passw0rd!",
        ),
        polling_interval=POLL,
    ).result()
    assert workspace.provisioning_state == "Succeeded", workspace.provisioning_state
    dev = workspace.connectivity_endpoints["dev"]
    assert dev.startswith(url), dev
    assert workspace.identity.principal_id
    step(f"synapse workspace, dev endpoint {dev}")

    pool = synapse.big_data_pools.begin_create_or_update(
        RG,
        SYN,
        POOL,
        syn_models.BigDataPoolResourceInfo(
            location="westeurope",
            spark_version="3.5",
            node_size="Medium",
            node_size_family="MemoryOptimized",
            auto_scale=syn_models.AutoScaleProperties(enabled=True, min_node_count=3, max_node_count=10),
            auto_pause=syn_models.AutoPauseProperties(enabled=True, delay_in_minutes=15),
        ),
        polling_interval=POLL,
    ).result()
    assert pool.provisioning_state == "Succeeded", pool.provisioning_state
    pools = list(synapse.big_data_pools.list_by_workspace(RG, SYN))
    assert [p.name for p in pools] == [POOL]
    step("spark pool")

    try:
        synapse.workspaces.get(RG, "does-not-exist")
        raise AssertionError("a missing workspace must raise")
    except ResourceNotFoundError as e:
        assert e.error.code == "ResourceNotFound", e.error.code
    step("404 envelope parsed by the SDK")

    access = AccessControlClient(credential, dev)
    definitions = list(access.role_definitions.list_role_definitions())
    names = {d.name for d in definitions}
    assert "Apache Spark Administrator" in names and "Synapse Administrator" in names, names
    step(f"{len(definitions)} synapse role definitions")

    principal = str(uuid.uuid4())
    scope = f"workspaces/{SYN}"
    created = access.role_assignments.create_role_assignment(
        str(uuid.uuid4()), SPARK_ADMIN, principal, scope, principal_type="ServicePrincipal"
    )
    assert created.principal_id == principal and created.role_definition_id == SPARK_ADMIN
    listed = access.role_assignments.list_role_assignments(role_id=SPARK_ADMIN, principal_id=principal, scope=scope)
    assert [a.id for a in listed.value] == [created.id], listed.value
    try:
        access.role_assignments.create_role_assignment(str(uuid.uuid4()), SPARK_ADMIN, principal, scope)
        raise AssertionError("a duplicate assignment must be refused")
    except (ResourceExistsError, HttpResponseError) as e:
        assert e.status_code == 409, e.status_code
        assert "RoleAssignmentAlreadyExists" in str(e), str(e)
    step("synapse role assignment created, listed, duplicate refused")

    ml = MachineLearningServicesMgmtClient(credential, SUBSCRIPTION, base_url=url, api_version="2023-04-01")
    failures = []

    def create_workspace():
        return ml.workspaces.begin_create_or_update(
            RG,
            AML,
            ml_models.Workspace(
                location="westeurope",
                identity=ml_models.ManagedServiceIdentity(type="SystemAssigned"),
                friendly_name=AML,
            ),
            polling_interval=POLL,
        ).result()

    # The 2023-04-01 definition answers a workspace PUT with 200 or 202 only; a failure
    # here is recorded, and the flows below go on with the workspace the PUT made.
    aml = checked(failures, "azure-mgmt-machinelearningservices: workspaces.begin_create_or_update", create_workspace)
    for _ in range(200):
        aml = ml.workspaces.get(RG, AML)
        if aml.provisioning_state == "Succeeded":
            break
        time.sleep(POLL)
    assert aml.provisioning_state == "Succeeded", aml.provisioning_state
    step("aml workspace")

    compute = ml_models.SynapseSpark(resource_id=pool.id)
    attached = ml.compute.begin_create_or_update(
        RG,
        AML,
        "spark1",
        ml_models.ComputeResource(location="westeurope", properties=compute),
        polling_interval=POLL,
    ).result()
    assert attached.properties.provisioning_state == "Succeeded", attached.properties.provisioning_state
    assert attached.properties.resource_id.lower() == pool.id.lower()
    names = [c.name for c in ml.compute.list(RG, AML)]
    assert names == ["spark1"], names
    ml.compute.begin_delete(RG, AML, "spark1", "Detach", polling_interval=POLL).result()
    assert list(ml.compute.list(RG, AML)) == []
    step("pool attached as SynapseSpark compute, then detached")

    app = str(uuid.uuid4())
    sp_credential = ClientSecretCredential(
        tenant_id="organizations",
        client_id=app,
        client_secret="not-checked",
        authority=url,
        disable_instance_discovery=True,
    )
    sp_token = sp_credential.get_token("https://management.azure.com/.default")
    assert sp_token.token.count(".") == 2
    stranger = ResourceManagementClient(sp_credential, SUBSCRIPTION, base_url=url)
    try:
        stranger.resource_groups.get(RG)
        raise AssertionError("a principal without a role must be refused")
    except HttpResponseError as e:
        assert e.status_code == 403 and e.error.code == "AuthorizationFailed", (e.status_code, e.error)
    step("client-credentials token; 403 AuthorizationFailed for a principal without a role")

    failures += azure_ai_ml_flow(url, credential, pool.id)
    failures += azureml_core_flow(url)

    synapse.big_data_pools.begin_delete(RG, SYN, POOL, polling_interval=POLL).result()
    synapse.workspaces.begin_delete(RG, SYN, polling_interval=POLL).result()
    assert list(synapse.workspaces.list_by_resource_group(RG)) == []
    step("pool and workspace deleted")
    if failures:
        print(f"conformance: {len(failures)} failed: " + "; ".join(failures), flush=True)
        sys.exit(1)
    print("conformance: ok", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: conformance.py EMULATOR_URL")
    main(sys.argv[1].rstrip("/"))
