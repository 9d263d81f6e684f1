using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace DJJobNet.Hosting;

/// <summary>
/// Binds <see cref="DJJobHostingOptions"/> from a configuration section, one key at a time, so that a value an option's
/// setter refuses (<c>"BatchSize": 0</c>), a value that does not convert (<c>"Sleep": "soon"</c>) or a key that names no
/// option (<c>"Sleeep"</c>) fails the host's start with a <see cref="DJException"/> naming the key (<c>DJJob:Worker:BatchSize</c>).
/// </summary>
internal static class HostingConfiguration
{
    public static void Bind(IConfiguration configuration, DJJobHostingOptions options)
    {
        foreach (var section in configuration.GetChildren())
        {
            if (section.Key.Equals(nameof(DJJobHostingOptions.Worker), StringComparison.OrdinalIgnoreCase))
            {
                foreach (var workerSection in section.GetChildren()) Set(options.Worker, workerSection);
            }
            else
            {
                Set(options, section);
            }
        }
    }

    // Only plain values are bound: TimeProvider and Backoff are set in code, through AddDJJob(options => ...).
    private static bool IsBindable(PropertyInfo property) =>
        property.CanWrite && property.SetMethod!.IsPublic &&
        (property.PropertyType == typeof(string) || property.PropertyType == typeof(int) ||
         property.PropertyType == typeof(bool) || property.PropertyType == typeof(TimeSpan));

    private static void Set(object target, IConfigurationSection section)
    {
        var type = target.GetType();
        var property = type.GetProperty(section.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || !IsBindable(property))
        {
            var known = string.Join(", ", type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => IsBindable(p) || p.Name == nameof(DJJobHostingOptions.Worker)).Select(p => p.Name));
            throw new DJException(property is null
                ? $"Unknown DJJob setting '{section.Path}': {type.Name} has no option '{section.Key}'. The options that configuration sets are: {known}."
                : $"DJJob setting '{section.Path}' cannot be set from configuration: set it in code with AddDJJob(options => ...).");
        }
        if (section.Value is null && section.GetChildren().Any())
            throw new DJException($"DJJob setting '{section.Path}' must be a single value, not a section.");

        object? value;
        try
        {
            value = section.Get(property.PropertyType);
        }
        catch (InvalidOperationException e)
        {
            throw new DJException($"Invalid value '{section.Value}' for DJJob setting '{section.Path}': {e.InnerException?.Message ?? e.Message}", e);
        }
        if (value is null && property.PropertyType.IsValueType)
            throw new DJException($"DJJob setting '{section.Path}' is empty: give a {property.PropertyType.Name} or leave the key out.");
        try
        {
            property.SetValue(target, value);
        }
        catch (TargetInvocationException e) when (e.InnerException is DJException refused)
        {
            throw new DJException($"Invalid value '{section.Value}' for DJJob setting '{section.Path}': {refused.Message}", refused);
        }
    }
}
