using DJJobNet;
using DJJobNet.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

// The namespace of IServiceCollection, as for the framework's own AddXxx methods: no using needed in Program.cs.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds DJJob to a .NET host: its configuration at start and workers that run until the host stops.</summary>
public static class DJJobServiceCollectionExtensions
{
    /// <summary>
    /// Configures DJJob when the host starts (<see cref="DJJob.Configure(string, string, int)"/>, the host's logging,
    /// <see cref="DJJob.Install"/>) and, unless <see cref="DJJobHostingOptions.RunWorker"/> is false, runs
    /// <see cref="DJJobHostingOptions.Workers"/> workers in the background until the host stops.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <remarks>DJJob's configuration is process-wide: one host per process should add it.</remarks>
    public static IServiceCollection AddDJJob(this IServiceCollection services, Action<DJJobHostingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DJJobHostingOptions>().Configure(configure);
        return AddHostedService(services);
    }

    /// <summary>
    /// As <see cref="AddDJJob(IServiceCollection, Action{DJJobHostingOptions})"/>, with the options bound from a configuration
    /// section, for example <c>builder.Configuration.GetSection("DJJob")</c>. A key that names no option, or a value an
    /// option refuses, fails the host's start with a <see cref="DJException"/> that names the key.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The section that holds <see cref="DJJobHostingOptions"/>, its worker options under <c>Worker</c>.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddDJJob(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DJJobHostingOptions>().Configure(options => HostingConfiguration.Bind(configuration, options));
        return AddHostedService(services);
    }

    private static IServiceCollection AddHostedService(IServiceCollection services)
    {
        // Once, however often AddDJJob is called: a second call adds to the options, not a second set of workers.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DJJobHostedService>());
        return services;
    }
}
