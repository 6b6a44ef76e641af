//! The throwaway PKI of one server: a fresh CA, a serving certificate for `127.0.0.1` and
//! `localhost`, and a client certificate (`CN=admin`, `O=system:masters`) for the kubeconfig's
//! `admin-cert` user. Also reads user and groups from a verified client certificate.

use crate::auth::User;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// Errors building the PKI or the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("failed to generate certificates")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration.
    #[error("failed to configure TLS")]
    Configure(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("failed to build the client certificate verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Certificates of one server.
pub struct Pki {
    /// CA certificate (PEM).
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    /// Admin client certificate (PEM).
    pub client_cert_pem: String,
    /// Admin client key (PEM).
    pub client_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// Generates a CA, a server certificate and the admin client certificate.
    pub fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name.push(DnType::CommonName, "kubesim-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate()?;
        let mut sp = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        sp.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = sp.signed_by(&server_key, &issuer)?;

        let (client_cert_pem, client_key_pem) =
            issue_client(&issuer, "admin", &["system:masters"])?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_der: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
            client_cert_pem,
            client_key_pem,
            issuer,
        })
    }

    /// Issues another client certificate (`CN=user`, `O=group`), returning PEM cert and key.
    /// rcgen keeps one value per attribute type, so only the first group is encoded.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<(String, String), TlsError> {
        issue_client(&self.issuer, user, groups)
    }

    /// The rustls server configuration: HTTP/1.1, optional client certificates.
    pub fn server_config(&self, http2: bool) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone())),
            )?;
        cfg.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Arc::new(cfg))
    }
}

fn issue_client(
    issuer: &Issuer<'static, KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, user);
    if let Some(g) = groups.first() {
        p.distinguished_name.push(DnType::OrganizationName, *g);
    }
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The user named by a (verified) client certificate: CN is the name, each O a group.
pub fn user_from_cert(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let cn = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(String::from))
        .collect();
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    Some(User::new(&cn, &refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cert_carries_user_and_groups() {
        let pki = Pki::generate().unwrap();
        let (pem, _) = pki.client_cert("alice", &["devs"]).unwrap();
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: CertificateDer<'static>| c)
            .unwrap();
        let u = user_from_cert(&der).unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, ["devs", "system:authenticated"]);
        let h2 = pki.server_config(true).unwrap();
        assert_eq!(h2.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        let h1 = pki.server_config(false).unwrap();
        assert_eq!(h1.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
