//! `--tls`: a certificate authority and a server certificate (for `localhost`,
//! `127.0.0.1`, `::1` and the listen address) made fresh at every start with rcgen, the
//! CA written as `ca.pem` for clients to trust (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`,
//! reqwest's `add_root_certificate`), and the rustls server configuration (ring).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::EmulatorError;

/// The TLS material of one run.
pub struct TlsMaterial {
    /// The rustls server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate file clients should trust.
    pub ca_file: PathBuf,
}

fn tls_err(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Tls(e.to_string())
}

/// Makes a CA and a server certificate, writes `dir/ca.pem` (and `dir/server.pem`).
pub fn make(dir: &Path, listen_ip: IpAddr) -> Result<TlsMaterial, EmulatorError> {
    std::fs::create_dir_all(dir).map_err(|source| EmulatorError::Data {
        path: dir.to_owned(),
        source,
    })?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "synlink emulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !listen_ip.is_unspecified() && !listen_ip.is_loopback() {
        names.push(listen_ip.to_string());
    }
    let mut leaf_params = CertificateParams::new(names).map_err(tls_err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "synlink emulator");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls_err)?;

    let ca_file = dir.join("ca.pem");
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|source| EmulatorError::Data {
            path: path.to_owned(),
            source,
        })
    };
    write(&ca_file, ca_cert.pem())?;
    write(
        &dir.join("server.pem"),
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
    )?;

    let chain = vec![
        CertificateDer::from(leaf_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(tls_err)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        config: Arc::new(config),
        ca_file,
    })
}
