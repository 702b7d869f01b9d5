//! `GET /metadata/endpoints`: ARM's cloud metadata (the shape of
//! `https://management.azure.com/metadata/endpoints?api-version=2019-05-01`, a list of
//! clouds), here one cloud named `SynlinkEmulator` whose endpoints are this emulator. Tools
//! that load clouds from that URL (azure-cli and azureml-core through
//! `ARM_CLOUD_METADATA_URL`) then find the emulator without a local file. Public, like
//! ARM's own: no token needed.

use serde_json::json;

use crate::reply::Reply;

/// The cloud's name, as tools select it (`AZUREML_CURRENT_CLOUD`, `az cloud set`).
pub const CLOUD_NAME: &str = "SynlinkEmulator";

/// The metadata: a list with the emulator's cloud.
pub fn endpoints(base_url: &str) -> Reply {
    Reply::ok(json!([{
        "name": CLOUD_NAME,
        "portal": base_url,
        "resourceManager": format!("{base_url}/"),
        "authentication": {
            "loginEndpoint": format!("{base_url}/"),
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/", format!("{base_url}/")],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "graphAudience": base_url,
        "graph": base_url,
        "media": base_url,
        "batch": base_url,
        "sqlManagement": base_url,
        "gallery": base_url,
        "vmImageAliasDoc": base_url,
        "activeDirectoryDataLake": base_url,
        "suffixes": {
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        },
    }]))
}
