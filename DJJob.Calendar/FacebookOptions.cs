namespace DJJobNet.Facebook;

/// <summary>Where the Graph API and the OAuth dialog are, and the application's credentials. Set once with <see cref="FacebookGraph.Configure"/>.</summary>
public sealed class FacebookOptions
{
    /// <summary>The Graph API's base address.</summary>
    /// <value>The default is <c>https://graph.facebook.com/</c>.</value>
    public Uri GraphUrl { get; set; } = new("https://graph.facebook.com/");

    /// <summary>The base address of the OAuth dialog (the permission step).</summary>
    /// <value>The default is <c>https://www.facebook.com/</c>.</value>
    public Uri DialogUrl { get; set; } = new("https://www.facebook.com/");

    /// <summary>The Graph API version put in every path.</summary>
    /// <value>The default is <c>v24.0</c>.</value>
    public string ApiVersion { get; set; } = "v24.0";

    /// <summary>The App Id from the application's settings on Facebook (needed for the permission step).</summary>
    public string? AppId { get; set; }

    /// <summary>
    /// The App Secret. It stays in the process that configures it: jobs never store it. When set, each Graph call
    /// carries <c>appsecret_proof</c> computed from it at run time.
    /// </summary>
    public string? AppSecret { get; set; }

    /// <summary>How long one Graph call may take before it counts as a failed attempt (and is retried).</summary>
    /// <value>The default is 30 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Called in the worker with the job and the id Facebook gave the new event, for example to save it.</summary>
    public Action<Calendar, string>? EventCreated { get; set; }
}
