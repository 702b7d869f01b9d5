//! Conformance with the official Azure SDKs for Python: runs
//! `tests/conformance/conformance.py` (azure-mgmt-synapse, azure-synapse-accesscontrol,
//! azure-mgmt-machinelearningservices, azure-identity, azure-ai-ml, and the seed's
//! azureml-core from the venv's `azureml-core/` sibling venv) against an emulator started
//! with `--tls`, with the python of `$SYNLINK_CONFORMANCE_PYTHON` (venvs made by
//! `.ci/conformance-venv.sh`; see `World::conformance_python`). Every SDK step that fails
//! is listed in the failure.

use std::path::Path;

use crate::world::World;

#[tokio::test]
async fn official_python_sdks_work_against_the_emulator() {
    let Some(python) = World::conformance_python("the Azure SDK conformance test") else {
        return;
    };
    let mut w = World::builder()
        .emulator_binary(&[
            "--tls",
            "--lro-ms",
            "20000",
            "--time-scale",
            "0.01",
            "--throttle",
            "on",
        ])
        .start()
        .await;
    let ca = w.emulator_data().join("tls").join("ca.pem");
    assert!(ca.exists(), "the CA file is written under --data");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/conformance.py");
    let emu_url = w.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(&emu_url)
            .env("REQUESTS_CA_BUNDLE", &ca)
            .env("SSL_CERT_FILE", &ca)
            .env("IDENTITY_ENDPOINT", format!("{emu_url}/_identity/msi"))
            .env("IDENTITY_HEADER", "synlink-emulator")
            .env_remove("IDENTITY_SERVER_THUMBPRINT")
            .env_remove("IMDS_ENDPOINT")
            .env_remove("MSI_ENDPOINT")
            .output()
            .expect("python runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("conformance: ok"), "{stdout}");
    assert!(w.stop_emulator().success());
}
