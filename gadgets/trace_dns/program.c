/*
 * trace_dns's WASM module: decodes the answer section of DNS responses from the packet bytes the eBPF program
 * copies (data, dns_off, data_len) and sets "addresses", the comma-separated IPv4/IPv6 addresses of the A and
 * AAAA answers (the header, first question name, qtype and rcode are decoded in the kernel already).
 */
#include <ig.h>

#define DATA_MAX 1024
#define DNS_HLEN 12
#define TYPE_A 1
#define TYPE_AAAA 28

static ig_field f_data, f_data_len, f_dns_off, f_qr, f_addresses;

/* Offset just past the (possibly compressed) name at off, or -1. */
static int skip_name(const uint8_t *p, int len, int off) {
	for (int guard = 0; guard < 128 && off < len; guard++) {
		uint8_t l = p[off];
		if (l == 0) return off + 1;
		if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : -1;
		if (l & 0xc0) return -1;
		off += 1 + l;
	}
	return -1;
}

/* RFC 5952 text of an IPv6 address: lower-case hex, the longest run (>= 2) of zero groups as "::". */
static int ipv6_text(const uint8_t *a, char *out, size_t cap) {
	uint16_t g[8];
	int best = -1, bestlen = 0, n = 0;
	for (int i = 0; i < 8; i++) g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	for (int i = 0; i < 8; i++) {
		if (g[i] != 0) continue;
		int j = i;
		while (j < 8 && g[j] == 0) j++;
		if (j - i > bestlen && j - i >= 2) { best = i; bestlen = j - i; }
		i = j;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) { n += snprintf(out + n, cap - n, "::"); i += bestlen - 1; continue; }
		n += snprintf(out + n, cap - n, "%s%x", (n > 0 && out[n - 1] != ':') ? ":" : "", g[i]);
	}
	return n;
}

static void on_dns(ig_datasource ds, ig_data d) {
	static uint8_t pkt[DATA_MAX];
	static char text[2048];
	uint32_t err = 0;
	if (ig_field_get_u8(f_qr, d, &err) != 1 || err) return; /* responses only */
	uint32_t len = ig_field_get_u32(f_data_len, d, 0);
	uint32_t off = ig_field_get_u16(f_dns_off, d, 0);
	int got = ig_field_get_bytes(f_data, d, pkt, sizeof pkt);
	if (got <= 0) return;
	if (len > (uint32_t)got) len = (uint32_t)got;
	if (off + DNS_HLEN > len) return;
	const uint8_t *dns = pkt + off;
	int dlen = (int)(len - off);
	int qd = dns[4] << 8 | dns[5], an = dns[6] << 8 | dns[7];
	int p = DNS_HLEN;
	for (int i = 0; i < qd && p >= 0; i++) {
		p = skip_name(dns, dlen, p);
		if (p >= 0) p += 4;
	}
	size_t n = 0;
	text[0] = 0;
	for (int i = 0; i < an && p >= 0 && p < dlen; i++) {
		p = skip_name(dns, dlen, p);
		if (p < 0 || p + 10 > dlen) break;
		int type = dns[p] << 8 | dns[p + 1];
		int rdlen = dns[p + 8] << 8 | dns[p + 9];
		p += 10;
		if (p + rdlen > dlen) break;
		char addr[48];
		addr[0] = 0;
		if (type == TYPE_A && rdlen == 4) snprintf(addr, sizeof addr, "%u.%u.%u.%u", dns[p], dns[p + 1], dns[p + 2], dns[p + 3]);
		else if (type == TYPE_AAAA && rdlen == 16) ipv6_text(dns + p, addr, sizeof addr);
		if (addr[0] && n + strlen(addr) + 2 < sizeof text) n += snprintf(text + n, sizeof text - n, "%s%s", n ? "," : "", addr);
		p += rdlen;
	}
	if (n) ig_field_set_string(f_addresses, d, text);
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("dns");
	if (!ds) { ig_errorf("no data source dns"); return 1; }
	f_data = ig_datasource_get_field(ds, "data");
	f_data_len = ig_datasource_get_field(ds, "data_len");
	f_dns_off = ig_datasource_get_field(ds, "dns_off");
	f_qr = ig_datasource_get_field(ds, "qr_raw");
	f_addresses = ig_datasource_add_field(ds, "addresses", IG_KIND_STRING);
	if (!f_data || !f_data_len || !f_dns_off || !f_qr || !f_addresses) { ig_errorf("trace_dns: fields missing"); return 1; }
	/* gadget.yaml may only name what the eBPF object has: the module describes its own field. */
	ig_set_config("datasources.dns.fields.addresses.annotations.description",
		      "Comma-separated IP addresses of the A and AAAA answers (responses only)");
	ig_set_config("datasources.dns.fields.addresses.annotations.columns.width", "24");
	return ig_datasource_subscribe(ds, on_dns, 0);
}
