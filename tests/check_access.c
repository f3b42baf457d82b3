/* SPDX-License-Identifier: ISC */
/*
 * check_access.c - networks (addr_net) and the allow/deny rules built on
 * them: what parses, what is refused and why, and which rule decides;
 * and peers formatted for the log, as snprintf() would have.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "access.h"
#include "addr.h"
#include "unit.h"

static struct addr
addr_of(const char *s)
{
	struct addr	 a;

	ck_assert_msg(addr_parse(&a, s) == 1, "%s", s);
	return a;
}

static struct addr_net
net_of(const char *s)
{
	struct addr_net	 net;
	const char	*why = NULL;

	ck_assert_msg(addr_net_parse(&net, s, &why) == 0, "%s: %s", s, why);
	return net;
}

/* Every length of octet and port, IPv6, no family, and a buffer too
 * short: cut as snprintf() cuts. */
START_TEST(test_peer_format)
{
	static const char *const v4[] = { "0.0.0.0", "9.10.99.100",
	    "255.255.255.255", "192.0.2.1" };
	static const unsigned ports[] = { 0, 7, 80, 443, 8080, 65535 };
	char		 buf[ADDR_STRLEN], want[ADDR_STRLEN], small[8];
	struct addr	 a;

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
			a = addr_of(v4[i]);
			a.a_port = (uint16_t)ports[j];
			addr_format(&a, buf, sizeof(buf));
			snprintf(want, sizeof(want), "%s:%u", v4[i], ports[j]);
			ck_assert_str_eq(buf, want);
		}
	a = addr_of("2001:db8::1");
	a.a_port = 443;
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8::1]:443");
	a = addr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	a.a_port = 65535;
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
	addr_format(&a, small, sizeof(small));
	ck_assert_str_eq(small, "[ffff:f");
	a = addr_of("192.0.2.1");
	a.a_port = 80;
	addr_format(&a, small, sizeof(small));
	ck_assert_str_eq(small, "192.0.2");
	addr_format(&a, small, 1);
	ck_assert_str_eq(small, "");
	memset(&a, 0, sizeof(a));
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "(unknown)");
}
END_TEST

START_TEST(test_net_parse)
{
	static const struct {
		const char	*in, *out;
	} good[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "192.0.2.1", "192.0.2.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "::1", "::1/128" },
		{ "::/0", "::/0" },
		/* IPv4-mapped: the IPv4 network. */
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8" },
		{ "::ffff:192.0.2.1", "192.0.2.1/32" },
	};
	char	 text[ADDR_STRLEN + 8];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct addr_net net = net_of(good[i].in);

		addr_net_format(&net, text, sizeof(text));
		ck_assert_str_eq(text, good[i].out);
	}
}
END_TEST

START_TEST(test_net_refused)
{
	static const struct {
		const char	*in, *why;
	} bad[] = {
		{ "", "not a numeric IPv4 or IPv6 address" },
		{ "/8", "not a numeric IPv4 or IPv6 address" },
		{ "10.0.0/8", "not a numeric IPv4 or IPv6 address" },
		{ "example.org", "not a numeric IPv4 or IPv6 address" },
		{ "10.0.0.0/", "the prefix length must be 0..32" },
		{ "10.0.0.0/33", "the prefix length must be 0..32" },
		{ "10.0.0.0/08", "the prefix length must be 0..32" },
		{ "10.0.0.0/8x", "the prefix length must be 0..32" },
		{ "10.0.0.0/-1", "the prefix length must be 0..32" },
		{ "10.0.0.0/99999999999", "the prefix length must be 0..32" },
		{ "::/129", "the prefix length must be 0..128" },
		{ "10.1.0.0/8", "bits are set past the prefix length" },
		{ "2001:db8::1/64", "bits are set past the prefix length" },
		{ "10.0.0.0/8/8", "the prefix length must be 0..32" },
	};
	struct addr_net	 net;
	const char	*why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(addr_net_parse(&net, bad[i].in, &why) == -1,
		    "accepted \"%s\"", bad[i].in);
		ck_assert_msg(why != NULL && strcmp(why, bad[i].why) == 0,
		    "\"%s\": %s", bad[i].in, why);
	}
}
END_TEST

START_TEST(test_net_match)
{
	struct addr_net	 n8 = net_of("10.0.0.0/8"), any4 = net_of("0.0.0.0/0");
	struct addr_net	 n6 = net_of("2001:db8::/32"), odd = net_of("10.0.0.0/9");

	ck_assert(addr_in_net(&(struct addr){ 0 }, &n8) == false);
	{
		struct addr a = addr_of("10.255.0.1"), b = addr_of("11.0.0.1");
		struct addr c = addr_of("2001:db8:ffff::1");
		struct addr d = addr_of("2001:db9::1");
		struct addr e = addr_of("10.128.0.1");

		ck_assert(addr_in_net(&a, &n8));
		ck_assert(!addr_in_net(&b, &n8));
		ck_assert(addr_in_net(&b, &any4));
		ck_assert(!addr_in_net(&c, &any4));	/* /0 is one family */
		ck_assert(addr_in_net(&c, &n6));
		ck_assert(!addr_in_net(&d, &n6));
		ck_assert(!addr_in_net(&a, &n6));
		ck_assert(addr_in_net(&a, &odd) == false);	/* 10.255 */
		ck_assert(addr_in_net(&e, &odd) == false);	/* 10.128 */
		a = addr_of("10.127.0.1");
		ck_assert(addr_in_net(&a, &odd));
	}
}
END_TEST

static struct access_rule
rule_of(const char *s)
{
	struct access_rule	 r;
	const char		*why = NULL;

	ck_assert_msg(access_rule_parse(&r, s, &why) == 0, "%s: %s", s, why);
	return r;
}

START_TEST(test_rule_parse)
{
	static const struct {
		const char	*in, *out;
	} good[] = {
		{ "allow 10.0.0.0/8", "allow 10.0.0.0/8" },
		{ "deny all", "deny all" },
		{ "allow all", "allow all" },
		{ "  deny\t192.0.2.7  ", "deny 192.0.2.7/32" },
		{ "deny ::1", "deny ::1/128" },
	};
	static const struct {
		const char	*in, *why;
	} bad[] = {
		{ "", "a rule starts with \"allow\" or \"deny\"" },
		{ "permit 10.0.0.1", "a rule starts with \"allow\" or \"deny\"" },
		{ "Allow 10.0.0.1", "a rule starts with \"allow\" or \"deny\"" },
		{ "denyall", "a rule starts with \"allow\" or \"deny\"" },
		{ "deny", "a rule needs an address, a network or \"all\"" },
		{ "deny   ", "a rule needs an address, a network or \"all\"" },
		{ "deny all 10.0.0.1", "a rule is two words: allow|deny CIDR|all" },
		{ "deny everyone", "not a numeric IPv4 or IPv6 address" },
		{ "deny 10.0.0.1/8", "bits are set past the prefix length" },
		{ "deny 0123456789012345678901234567890123456789012345678901"
		    "234567890123456789", "not a numeric IPv4 or IPv6 address" },
	};
	struct access_rule	 r;
	const char		*why;
	char			 text[ADDR_STRLEN + 16];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = rule_of(good[i].in);
		access_rule_format(&r, text, sizeof(text));
		ck_assert_str_eq(text, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(access_rule_parse(&r, bad[i].in, &why) == -1,
		    "accepted \"%s\"", bad[i].in);
		ck_assert_msg(why != NULL && strcmp(why, bad[i].why) == 0,
		    "\"%s\": %s", bad[i].in, why);
	}
}
END_TEST

/* First match wins; no match: allowed, and the rule index is n. */
START_TEST(test_rule_order)
{
	struct access_rule	 rules[] = {
		rule_of("deny 10.1.0.0/16"),
		rule_of("allow 10.0.0.0/8"),
		rule_of("allow 2001:db8::/32"),
		rule_of("deny all"),
	};
	struct addr		 a;
	size_t			 which;

	a = addr_of("10.1.2.3");
	ck_assert(!access_allowed(rules, 4, &a, &which));
	ck_assert_uint_eq(which, 0);
	a = addr_of("10.2.0.1");
	ck_assert(access_allowed(rules, 4, &a, &which));
	ck_assert_uint_eq(which, 1);
	a = addr_of("2001:db8::9");
	ck_assert(access_allowed(rules, 4, &a, &which));
	ck_assert_uint_eq(which, 2);
	a = addr_of("192.0.2.1");
	ck_assert(!access_allowed(rules, 4, &a, &which));
	ck_assert_uint_eq(which, 3);
	/* Without the last rule, the default: allowed. */
	ck_assert(access_allowed(rules, 3, &a, &which));
	ck_assert_uint_eq(which, 3);
	ck_assert(access_allowed(rules, 0, &a, &which));
	ck_assert_uint_eq(which, 0);
}
END_TEST

Suite *
access_suite(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc = tcase_create("rules");

	tcase_add_test(tc, test_peer_format);
	tcase_add_test(tc, test_net_parse);
	tcase_add_test(tc, test_net_refused);
	tcase_add_test(tc, test_net_match);
	tcase_add_test(tc, test_rule_parse);
	tcase_add_test(tc, test_rule_order);
	suite_add_tcase(s, tc);
	return s;
}
