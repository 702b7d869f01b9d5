//! How often Azure tells clients to poll a long-running operation: the `Retry-After` each
//! resource provider announces on its operation answers, a fixed interval per provider
//! (Azure never announces the time an operation has left), scaled by `--time-scale`, with
//! `retry-after-ms` carrying the scaled value exactly (azure-core prefers it). Where a
//! provider announces nothing, clients fall back to their own default (30 s in azure-core's
//! ARM poller, `polling_interval`), so the emulator announces that default: the pace is
//! then the one real clients keep. Sources per provider are in `interval_secs`.

use crate::faults::Faults;

/// The interval (whole seconds) the provider owning `resource_id` announces.
pub fn interval_secs(resource_id: &str) -> u64 {
    let lower = resource_id.to_ascii_lowercase();
    if lower.contains("/providers/microsoft.synapse/") {
        // Microsoft.Synapse sends no Retry-After on workspace and pool PUTs nor on
        // `operationStatuses` answers (Azure/azure-cli recording
        // src/azure-cli/azure/cli/command_modules/synapse/tests/latest/recordings/test_spark_pool.yaml;
        // Azure/azure-powershell src/Synapse/Synapse.Test/SessionRecords/...SparkPoolTests/TestSynapseSparkPool.json):
        // clients poll at their 30 s default, as those recordings show.
        30
    } else if lower.contains("/providers/microsoft.machinelearningservices/") {
        // Microsoft.MachineLearningServices sends no Retry-After on compute PUTs nor on
        // `computeOperationsStatus` answers (Azure/azure-powershell
        // src/MachineLearningServices/MachineLearningServices.Autorest/test/New-AzMLWorkspaceCompute.Recording.json,
        // api-version 2024-04-01): clients poll at their 30 s default.
        30
    } else {
        // Microsoft.Resources (resource group deletion): `Retry-After: 15` on the 202 and
        // its `operationresults` (ARM recordings of `DELETE …/resourcegroups/{rg}`, e.g.
        // the azure-xplat-cli nock recordings, api-version 2016-09-01).
        15
    }
}

/// `Retry-After` (whole seconds, rounded up, at least 1) and `retry-after-ms` for polls
/// of an operation on `resource_id`, scaled by the time scale.
pub fn headers(resource_id: &str, faults: &Faults) -> Vec<(String, String)> {
    let ms = faults.scaled(interval_secs(resource_id) * 1000).max(1);
    vec![
        ("retry-after".to_owned(), ms.div_ceil(1000).to_string()),
        ("retry-after-ms".to_owned(), ms.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_has_its_interval_scaled_alike() {
        let f = Faults {
            time_scale: 0.01,
            ..Faults::default()
        };
        let syn = headers(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Synapse/workspaces/w",
            &f,
        );
        assert_eq!(
            syn,
            [
                ("retry-after".into(), "1".into()),
                ("retry-after-ms".into(), "300".into())
            ]
        );
        assert_eq!(interval_secs("/subscriptions/s/resourceGroups/r"), 15);
        let full = headers("/subscriptions/s/resourceGroups/r", &Faults::default());
        assert_eq!(full[0].1, "15");
        assert_eq!(full[1].1, "15000");
    }
}
