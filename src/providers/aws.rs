//! AWS Signature Version 4, just enough to ask STS `GetCallerIdentity` whether an access key id
//! and secret access key belong together and are active. It needs no permission, so any working
//! key pair passes.

use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Provider;

const REGION: &str = "us-east-1";
const SERVICE: &str = "sts";
const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

pub struct Signed {
    pub headers: Vec<(&'static str, String)>,
    pub body: &'static str,
}

/// Which half is the access key id: the checked value or its pair.
pub fn split_pair<'a>(provider: &Provider, key: &'a str, paired: &'a str) -> (&'a str, &'a str) {
    let is_id = provider.pattern_for(key).is_some_and(|p| p.kind == "access key id");
    if is_id { (key, paired) } else { (paired, key) }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// The signature of a canonical request (SigV4 steps 2 to 4).
pub fn signature(secret: &str, amz_date: &str, region: &str, service: &str, canonical_request: &str) -> String {
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request)));
    let k_secret = Zeroizing::new(format!("AWS4{secret}"));
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, to_sign.as_bytes()))
}

/// `20261126T112813Z`
pub fn amz_date(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string().replace(['-', ':'], "")
}

/// A signed STS GetCallerIdentity request to `url`.
pub fn sign_sts_request(url: &Url, access_key_id: &str, secret: &str, now: i64) -> Signed {
    let amz_date = amz_date(now);
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let canonical = format!(
        "POST\n{}\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\nx-amz-date:{amz_date}\n\ncontent-type;host;x-amz-date\n{}",
        url.path(),
        hex(&Sha256::digest(BODY))
    );
    let sig = signature(secret, &amz_date, REGION, SERVICE, &canonical);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{}/{REGION}/{SERVICE}/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature={sig}",
        &amz_date[..8]
    );
    Signed {
        headers: vec![
            ("content-type", CONTENT_TYPE.into()),
            ("x-amz-date", amz_date),
            ("authorization", authorization),
        ],
        body: BODY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example in AWS's "Signature Version 4 for S3" documentation (GET Object).
    #[test]
    fn matches_the_published_example() {
        let canonical = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20130524T000000Z\n\n\
host;range;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let sig =
            signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524T000000Z", "us-east-1", "s3", canonical);
        assert_eq!(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
    }
}
