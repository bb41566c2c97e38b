/*
 * trace_dns's WASM module: decodes the DNS message the eBPF program sends after each event (data: the packet's
 * bytes, dns_off: where the message starts, data_len: the packet's length), as upstream's module does, with
 * upstream's field names and value formats:
 *   id ("%.4x"), qr_raw (bool), qr ("Q"/"R"), qtype_raw / qtype (first question; "A", "AAAA", ... or the
 *   number), name (first question, dotted with the trailing dot), rcode_raw / rcode (responses only: "Success",
 *   "NameError", ... or the number), num_answers, addresses (A and AAAA answers, comma-separated), tc, ra, rd;
 * plus opcode, num_questions, num_authorities, num_additionals (header counts, not in upstream's module).
 * A message that does not parse leaves the fields it did not reach empty (upstream's drops them all).
 */
#include <ig.h>

#define DATA_MAX 4096
#define DNS_HLEN 12
#define NAME_MAX_TEXT 256
#define TYPE_A 1
#define TYPE_AAAA 28

static ig_field f_data, f_data_len, f_dns_off;
static ig_field o_id, o_qr_raw, o_qr, o_qtype_raw, o_qtype, o_name, o_rcode_raw, o_rcode, o_num_answers, o_addresses;
static ig_field o_tc, o_ra, o_rd, o_opcode, o_num_questions, o_num_authorities, o_num_additionals;

/* Names of upstream's module (golang.org/x/net/dns/dnsmessage's, prefixes trimmed); others print as numbers. */
static const char *type_name(unsigned t) {
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 41: return "OPT";
	case 252: return "AXFR";
	case 255: return "ALL";
	}
	return 0;
}

static const char *rcode_name(unsigned r) {
	static const char *names[] = { "Success", "FormatError", "ServerFailure", "NameError", "NotImplemented", "Refused" };
	return r < sizeof names / sizeof names[0] ? names[r] : 0;
}

static inline unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

/*
 * Decode the name at off into text (dotted, trailing dot; "." for the root), following compression pointers.
 * Returns the offset just past the name in the message (not past a pointer's target), or -1.
 */
static int read_name(const uint8_t *m, int len, int off, char *text, size_t cap) {
	size_t n = 0;
	int end = -1;
	for (int hops = 0, guard = 0; guard < 256; guard++) {
		if (off >= len) return -1;
		uint8_t l = m[off];
		if (l == 0) {
			if (end < 0) end = off + 1;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			if (off + 2 > len || ++hops > 16) return -1;
			if (end < 0) end = off + 2;
			off = (int)((l & 0x3f) << 8 | m[off + 1]);
			continue;
		}
		if (l & 0xc0) return -1; /* reserved label types */
		if (off + 1 + l > len) return -1;
		if (text && n + l + 2 < cap) {
			memcpy(text + n, m + off + 1, l);
			n += l;
			text[n++] = '.';
		}
		off += 1 + l;
	}
	if (text) {
		if (n == 0 && cap > 1) text[n++] = '.';
		text[n < cap ? n : cap - 1] = 0;
	}
	return end;
}

/* RFC 5952 text of an IPv6 address (as Go's net.IP prints it): lower-case hex, the longest run (>= 2) of zero
 * groups as "::"; IPv4-mapped addresses as dotted quads. */
static int ipv6_text(const uint8_t *a, char *out, size_t cap) {
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(a, mapped, 12) == 0) return snprintf(out, cap, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
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
	static char text[2048], name[NAME_MAX_TEXT + 2], num[8];
	(void)ds;
	int got = ig_field_get_bytes(f_data, d, pkt, sizeof pkt);
	if (got <= 0) return;
	uint32_t len = ig_field_get_u32(f_data_len, d, 0);
	uint32_t off = ig_field_get_u16(f_dns_off, d, 0);
	if (len > (uint32_t)got) len = (uint32_t)got;
	if (off + DNS_HLEN > len) return;
	const uint8_t *m = pkt + off;
	int mlen = (int)(len - off);

	unsigned flags = be16(m + 2), qd = be16(m + 4), an = be16(m + 6);
	int response = flags >> 15;
	snprintf(text, sizeof text, "%.4x", be16(m));
	ig_field_set_string(o_id, d, text);
	ig_field_set_bool(o_qr_raw, d, response);
	ig_field_set_string(o_qr, d, response ? "R" : "Q");
	if (response) {
		unsigned rc = flags & 0xf;
		const char *rn = rcode_name(rc);
		if (!rn) { snprintf(num, sizeof num, "%u", rc); rn = num; }
		ig_field_set_u16(o_rcode_raw, d, (uint16_t)rc);
		ig_field_set_string(o_rcode, d, rn);
	}
	ig_field_set_bool(o_tc, d, (flags >> 9) & 1);
	ig_field_set_bool(o_rd, d, (flags >> 8) & 1);
	ig_field_set_bool(o_ra, d, (flags >> 7) & 1);
	ig_field_set_u8(o_opcode, d, (uint8_t)((flags >> 11) & 0xf));
	ig_field_set_u16(o_num_questions, d, (uint16_t)qd);
	ig_field_set_u16(o_num_authorities, d, (uint16_t)be16(m + 8));
	ig_field_set_u16(o_num_additionals, d, (uint16_t)be16(m + 10));

	/* Questions: the first one's name and type are shown; the others are skipped. */
	int p = DNS_HLEN;
	for (unsigned i = 0; i < qd && p >= 0; i++) {
		p = read_name(m, mlen, p, i == 0 ? name : 0, sizeof name);
		if (p < 0 || p + 4 > mlen) { p = -1; break; }
		if (i == 0) {
			unsigned qt = be16(m + p);
			const char *tn = type_name(qt);
			if (!tn) { snprintf(num, sizeof num, "%u", qt); tn = num; }
			ig_field_set_u16(o_qtype_raw, d, (uint16_t)qt);
			ig_field_set_string(o_qtype, d, tn);
			ig_field_set_string(o_name, d, name);
		}
		p += 4;
	}

	/* Answers: count those that parse; A and AAAA give addresses. */
	size_t n = 0;
	int answers = 0;
	text[0] = 0;
	for (unsigned i = 0; i < an && p >= 0; i++) {
		p = read_name(m, mlen, p, 0, 0);
		if (p < 0 || p + 10 > mlen) break;
		unsigned type = be16(m + p), rdlen = be16(m + p + 8);
		p += 10;
		if (p + (int)rdlen > mlen) break;
		answers++;
		char addr[48];
		addr[0] = 0;
		if (type == TYPE_A && rdlen == 4) snprintf(addr, sizeof addr, "%u.%u.%u.%u", m[p], m[p + 1], m[p + 2], m[p + 3]);
		else if (type == TYPE_AAAA && rdlen == 16) ipv6_text(m + p, addr, sizeof addr);
		if (addr[0] && n + strlen(addr) + 2 < sizeof text) n += snprintf(text + n, sizeof text - n, "%s%s", n ? "," : "", addr);
		p += (int)rdlen;
	}
	ig_field_set_i32(o_num_answers, d, answers);
	ig_field_set_string(o_addresses, d, text);
}

/* gadget.yaml may only name what the eBPF object has: the module describes the fields it adds. */
static void describe(const char *field, const char *key, const char *value) {
	char k[160];
	snprintf(k, sizeof k, "datasources.dns.fields.%s.annotations.%s", field, key);
	ig_set_config(k, value);
}

static ig_field add(ig_datasource ds, const char *name, enum ig_kind kind, const char *description, int hidden) {
	ig_field f = ig_datasource_add_field(ds, name, kind);
	describe(name, "description", description);
	if (hidden) describe(name, "columns.hidden", "true");
	return f;
}

IG_EXPORT(gadgetInit) int gadgetInit(void) {
	ig_datasource ds = ig_datasource_get("dns");
	if (!ds) { ig_errorf("trace_dns: no data source dns"); return 1; }
	f_data = ig_datasource_get_field(ds, "data");
	f_data_len = ig_datasource_get_field(ds, "data_len");
	f_dns_off = ig_datasource_get_field(ds, "dns_off");
	if (!f_data || !f_data_len || !f_dns_off) { ig_errorf("trace_dns: fields data, data_len, dns_off missing"); return 1; }

	/* upstream's fields, in upstream's order */
	o_id = add(ds, "id", IG_KIND_STRING, "DNS query/response ID, used to match queries with responses", 1);
	o_qr_raw = add(ds, "qr_raw", IG_KIND_BOOL, "Raw qr value (false: query, true: response)", 1);
	o_qr = add(ds, "qr", IG_KIND_STRING, "Specifies whether this message is a query (Q), or a response (R).", 0);
	describe("qr", "columns.width", "2");
	describe("qr", "columns.minwidth", "2");
	o_qtype_raw = add(ds, "qtype_raw", IG_KIND_UINT16, "Raw numeric qtype value", 1);
	o_qtype = add(ds, "qtype", IG_KIND_STRING, "Query type (A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, WKS, HINFO, MINFO, AXFR, ALL, else the number)", 0);
	describe("qtype", "columns.width", "5");
	o_name = add(ds, "name", IG_KIND_STRING, "Domain name being queried in the DNS request or response.", 0);
	describe("name", "columns.width", "30");
	o_rcode_raw = add(ds, "rcode_raw", IG_KIND_UINT16, "Raw numeric rcode value (0=Success, 1=FormatError, 2=ServerFailure, 3=NameError, 4=NotImplemented, 5=Refused)", 1);
	o_rcode = add(ds, "rcode", IG_KIND_STRING, "Response code indicating the status of the DNS response. Empty for queries.", 0);
	describe("rcode", "columns.width", "8");
	describe("rcode", "columns.minwidth", "8");
	o_num_answers = add(ds, "num_answers", IG_KIND_INT32, "Number of answers in the DNS response", 1);
	o_addresses = add(ds, "addresses", IG_KIND_STRING, "Comma-separated list of IP addresses returned in the DNS responses (A and AAAA records); empty for queries", 0);
	describe("addresses", "columns.width", "24");
	o_tc = add(ds, "tc", IG_KIND_BOOL, "Truncated Flag", 1);
	o_ra = add(ds, "ra", IG_KIND_BOOL, "Recursion Available Flag", 1);
	o_rd = add(ds, "rd", IG_KIND_BOOL, "Recursion Desired Flag", 1);
	/* not in upstream's module */
	o_opcode = add(ds, "opcode", IG_KIND_UINT8, "DNS opcode (0: standard query)", 1);
	o_num_questions = add(ds, "num_questions", IG_KIND_UINT16, "Number of questions", 1);
	o_num_authorities = add(ds, "num_authorities", IG_KIND_UINT16, "Number of authority records", 1);
	o_num_additionals = add(ds, "num_additionals", IG_KIND_UINT16, "Number of additional records", 1);
	if (!o_id || !o_qr_raw || !o_qr || !o_qtype_raw || !o_qtype || !o_name || !o_rcode_raw || !o_rcode || !o_num_answers ||
	    !o_addresses || !o_tc || !o_ra || !o_rd || !o_opcode || !o_num_questions || !o_num_authorities || !o_num_additionals) {
		ig_errorf("trace_dns: cannot add fields");
		return 1;
	}
	return ig_datasource_subscribe(ds, on_dns, 0);
}
