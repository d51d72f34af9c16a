#!/usr/bin/perl
# A Perl module whose regular expression holds "<?" (an optional "<"):
# everything after it must not be read as PHP.
use strict;
use warnings;

sub parse_target {
    my ($line) = @_;
    my ($file) = $line =~ m{
        ^\s*
        <?          # optional '<'
        ([^>]+)
        >?\s*$
    }x;
    return $file;
}

sub run_expr {
    my $expr = shift;
    my @res = eval $expr;
    if ($@) {
        warn "error: $@";
    }
    elsif (@res) {
        print join(",", @res), "\n";
    }
    unless (defined $expr) {
        print "nothing\n";
    }
    return @res;
}

my $t = parse_target(<STDIN>);
run_expr($t);
