//! Which partner a verified client certificate is: the one partner of the policy whose identity
//! (URI SAN, DNS SAN or SPKI SHA-256 pin) the certificate carries. None is `unknown_partner`;
//! two are `ambiguous_identity`, whatever the order of the policy.

use sluice_certs::PeerIdentity;
use sluice_policy::Identity;

use crate::errors::Reason;

/// The policy partner whose identity the certificate carries. A certificate that carries the
/// identities of two partners is refused whatever the policy's order (`ambiguous_identity`).
pub fn partner_of<'p>(
    policy: &'p sluice_policy::CompiledPolicy,
    peer: &PeerIdentity,
) -> Result<&'p sluice_policy::Partner, Reason> {
    let mut found = policy
        .partners
        .iter()
        .filter(|p| carries(peer, &p.identity));
    let first = found.next().ok_or(Reason::UnknownPartner)?;
    match found.next() {
        Some(_) => Err(Reason::AmbiguousIdentity),
        None => Ok(first),
    }
}

/// Whether the certificate carries the identity of a partner of the policy (one, or several).
pub fn names_a_partner(policy: &sluice_policy::CompiledPolicy, peer: &PeerIdentity) -> bool {
    policy.partners.iter().any(|p| carries(peer, &p.identity))
}

/// Whether the certificate carries `identity` (a partner's, or an internal listener's caller).
pub fn carries(peer: &PeerIdentity, identity: &Identity) -> bool {
    match identity {
        Identity::UriSan(u) => peer.uri_sans.iter().any(|x| x == u),
        Identity::DnsSan(d) => peer.dns_sans.iter().any(|x| x == d),
        Identity::SpkiSha256(h) => &peer.spki_sha256 == h,
    }
}
