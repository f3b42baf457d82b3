#!/usr/bin/perl
# tool.pl - the two small clients scaleout.sh needs, in Perl's core
# modules only (perl-base, always on Debian):
#
#   tool.pl cli SOCKET COMMAND
#       HAProxy's stats socket: send COMMAND, print the answer.
#   tool.pl line ADDR PORT
#       The first line a TCP server sends (an agent check's answer).
#   tool.pl hold ADDR PORT CONNS SECONDS [PROXYSRC]
#       Hold CONNS connections to ADDR:PORT, reading what the server
#       sends and sending nothing (each one a slow client that holds a
#       worker); a connection the server closes is opened again at once.
#       With PROXYSRC, each starts with a PROXY protocol v2 header that
#       names PROXYSRC as the client (as a trusted proxy would).  Ends
#       after SECONDS or at SIGTERM, and prints
#       "hold: opened=N closed=N failed=N".
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(inet_aton);
use Time::HiRes qw(time);

my $what = shift @ARGV // '';

if ($what eq 'cli') {
	my ($path, $cmd) = @ARGV;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	    or die "tool.pl: $path: $!\n";
	print $s "$cmd\n";
	my $deadline = time + 5;
	my $sel = IO::Select->new($s);
	while (time < $deadline) {
		next unless $sel->can_read(0.5);
		my $n = sysread($s, my $buf, 65536);
		last unless $n;
		print $buf;
	}
	exit 0;
}

if ($what eq 'line') {
	my ($addr, $port) = @ARGV;
	my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
	    Proto => 'tcp', Timeout => 2) or die "tool.pl: $addr:$port: $!\n";
	my $sel = IO::Select->new($s);
	my $line = '';
	while ($line !~ /\n/ && $sel->can_read(2)) {
		my $n = sysread($s, my $buf, 256);
		last unless $n;
		$line .= $buf;
	}
	$line =~ s/\r?\n.*//s;
	print "$line\n";
	exit 0;
}

if ($what eq 'hold') {
	my ($addr, $port, $conns, $secs, $psrc) = @ARGV;
	die "usage: tool.pl hold ADDR PORT CONNS SECONDS [PROXYSRC]\n"
	    unless defined $secs;
	my $stop = 0;
	$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
	my ($opened, $closed, $failed) = (0, 0, 0);
	my $sel = IO::Select->new;
	my $open = sub {
		my $s = IO::Socket::INET->new(PeerAddr => $addr,
		    PeerPort => $port, Proto => 'tcp', Timeout => 2);
		unless ($s) {
			$failed++;
			return;
		}
		if (defined $psrc) {
			# Signature, v2 PROXY, TCP over IPv4, 12 address
			# bytes: source, destination, their ports.
			print $s "\r\n\r\n\0\r\nQUIT\n" .
			    pack('CCn', 0x21, 0x11, 12) . inet_aton($psrc) .
			    inet_aton($addr) . pack('nn', 40000 + $opened % 20000,
			    $port);
			$s->flush;
		}
		$opened++;
		$sel->add($s);
	};
	my $end = time + $secs;
	$open->() for 1 .. $conns;
	while (!$stop && time < $end) {
		my $round = time;
		for my $s ($sel->can_read(0.2)) {
			my $n = sysread($s, my $buf, 4096);
			next if $n;
			$sel->remove($s);
			close $s;
			$closed++;
		}
		# Refill to CONNS (a failed connect is tried again next round),
		# at most every 0.1 s: a server that closes at once is not
		# flooded.
		last if $stop;
		select(undef, undef, undef, $round + 0.1 - time)
		    if time < $round + 0.1;
		$open->() for 1 .. $conns - $sel->count;
	}
	$_->close for $sel->handles;
	print "hold: opened=$opened closed=$closed failed=$failed\n";
	exit 0;
}

die "usage: tool.pl cli SOCKET COMMAND | line ADDR PORT | " .
    "hold ADDR PORT CONNS SECONDS [PROXYSRC]\n";
