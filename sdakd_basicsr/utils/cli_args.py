"""Argument types of the command-line tools: nonsense values are refused by argparse, naming the flag."""
import argparse


def _number(kind, minimum, inclusive, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {"an integer" if kind is int else "a number"}')
        if value < minimum or (not inclusive and value == minimum):
            raise argparse.ArgumentTypeError(f'{text} is not {what}')
        return value
    parse.__name__ = what  # argparse shows it in "invalid <name> value"
    return parse


non_negative_int = _number(int, 0, True, 'a non-negative integer')
positive_int = _number(int, 0, False, 'a positive integer')
positive_float = _number(float, 0.0, False, 'a positive number')
non_negative_float = _number(float, 0.0, True, 'a non-negative number')


def check_tiling(parser, tile, overlap, tile_flag='--tile', overlap_flag='--tile-overlap'):
    """An overlap must be smaller than the tile (when tiling is on)."""
    if tile and overlap >= tile:
        parser.error(f'{overlap_flag} {overlap} must be smaller than {tile_flag} {tile} (or use {tile_flag} 0: '
                     'no tiling)')


def check_range(parser, low, high, flag):
    """A ``nargs=2`` range must be ordered."""
    if low > high:
        parser.error(f'{flag} {low:g} {high:g}: the first value must not exceed the second')
