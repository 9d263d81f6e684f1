using System.Text.RegularExpressions;

namespace DJJobNet.Internal;

/// <summary>Checks for the names that end up in SQL text or in indexed columns.</summary>
internal static partial class Sql
{
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    private static partial Regex Identifier();

    // The table name is the only thing spliced into SQL text, so it must be a plain identifier: no quoting games.
    public static string ValidTableName(string? name) =>
        name is not null && Identifier().IsMatch(name)
            ? name
            : throw new DJException($"Invalid jobs table name '{name}': use letters, digits and underscores only (at most 64, not starting with a digit).");

    public static string ValidQueue(string? queue) =>
        !string.IsNullOrEmpty(queue) && queue.Length <= 255
            ? queue
            : throw new DJException($"Invalid queue name '{queue}': it must have 1 to 255 characters.");
}
