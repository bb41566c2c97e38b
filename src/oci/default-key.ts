// The public key the Inspektor Gadget project signs its images with (upstream's pkg/resources/inspektor-gadget.pub).
// It is public data, like a CA certificate: with it, images pulled from upstream's registry verify without
// --public-keys, as with upstream's ig. --public-keys replaces it.
export const INSPEKTOR_GADGET_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoDOC0gYSxZTopenGmX3ZFvQ1DSfh
Ir4EKRt5jC+mXaJ7c7J+oREskYMn/SfZdRHNSOjLTZUMDm60zpXGhkFecg==
-----END PUBLIC KEY-----
`;
